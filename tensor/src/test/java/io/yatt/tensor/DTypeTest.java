package io.yatt.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.ffi.nccl.NcclDataType;
import org.junit.jupiter.api.Test;

class DTypeTest {

    @Test
    void shouldReportByteSizes() {
        assertEquals(4, DType.F32.byteSize());
        assertEquals(2, DType.F16.byteSize());
        assertEquals(2, DType.BF16.byteSize());
        assertEquals(8, DType.F64.byteSize());
        assertEquals(1, DType.I8.byteSize());
        assertEquals(4, DType.I32.byteSize());
        assertEquals(8, DType.I64.byteSize());
        assertEquals(1, DType.U8.byteSize());
        assertEquals(1, DType.BOOL.byteSize());
    }

    @Test
    void shouldMapToNcclDataTypeCodes() {
        assertEquals(7, DType.F32.ncclType());
        assertEquals(6, DType.F16.ncclType());
        assertEquals(9, DType.BF16.ncclType());
        assertEquals(8, DType.F64.ncclType());
        assertEquals(0, DType.I8.ncclType());
        assertEquals(2, DType.I32.ncclType());
        assertEquals(4, DType.I64.ncclType());
        assertEquals(1, DType.U8.ncclType());
        assertEquals(1, DType.BOOL.ncclType());
    }

    @Test
    void shouldMapToNcclDataTypeConstantsOfTheBindings() {
        assertEquals(NcclDataType.FLOAT32, DType.F32.ncclDataType());
        assertEquals(NcclDataType.FLOAT16, DType.F16.ncclDataType());
        assertEquals(NcclDataType.BFLOAT16, DType.BF16.ncclDataType());
        assertEquals(NcclDataType.FLOAT64, DType.F64.ncclDataType());
        assertEquals(NcclDataType.INT8, DType.I8.ncclDataType());
        assertEquals(NcclDataType.INT32, DType.I32.ncclDataType());
        assertEquals(NcclDataType.INT64, DType.I64.ncclDataType());
        assertEquals(NcclDataType.UINT8, DType.U8.ncclDataType());
        assertEquals(NcclDataType.UINT8, DType.BOOL.ncclDataType());
        for (DType type : DType.values()) {
            assertEquals(type.byteSize(), type.ncclDataType().byteSize());
        }
    }

    @Test
    void shouldRoundTripSafetensorsNames() {
        for (DType type : DType.values()) {
            assertEquals(type.name(), type.safetensorsName());
            assertEquals(type, DType.fromSafetensors(type.safetensorsName()));
        }
    }

    @Test
    void shouldRejectUnknownSafetensorsName() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> DType.fromSafetensors("F8_E4M3"));
        assertEquals("unknown dtype: dtype=F8_E4M3, expected one of [F32, F16, BF16, F64, I8, I32, I64, U8, BOOL]",
                error.getMessage());
    }

    @Test
    void shouldClassifyFloatingPointTypes() {
        assertTrue(DType.F32.isFloatingPoint());
        assertTrue(DType.F16.isFloatingPoint());
        assertTrue(DType.BF16.isFloatingPoint());
        assertTrue(DType.F64.isFloatingPoint());
        assertFalse(DType.I8.isFloatingPoint());
        assertFalse(DType.I32.isFloatingPoint());
        assertFalse(DType.I64.isFloatingPoint());
        assertFalse(DType.U8.isFloatingPoint());
        assertFalse(DType.BOOL.isFloatingPoint());
    }
}
