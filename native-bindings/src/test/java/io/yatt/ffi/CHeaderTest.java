package io.yatt.ffi;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The test-side C declaration reader used by the header-conformance test. */
class CHeaderTest {
    @TempDir
    Path tmp;

    private CHeader parse(String text) throws IOException {
        return CHeader.parse(Files.writeString(tmp.resolve("h.h"), text));
    }

    @Test
    void shouldReadMultiLineDeclarationsWithCudaMacros() throws IOException {
        CHeader header = parse("""
                #define CUDA_IPC_HANDLE_SIZE 64 /* bytes */
                typedef struct CUstream_st *cudaStream_t;
                typedef __device_builtin__ enum cudaError cudaError_t;
                typedef struct cudaIpcMemHandle_st { char reserved[CUDA_IPC_HANDLE_SIZE]; } cudaIpcMemHandle_t;
                /** docs (with parentheses) */
                extern __host__ __cudart_builtin__ cudaError_t CUDARTAPI cudaMemcpyAsync(void *dst,
                    const void *src, size_t count, enum cudaMemcpyKind kind,
                    cudaStream_t stream __dv(0));
                extern __host__ cudaError_t CUDARTAPI cudaIpcOpenMemHandle(void **devPtr, cudaIpcMemHandle_t handle, unsigned int flags);
                extern __host__ const char* CUDARTAPI cudaGetErrorName(cudaError_t error);
                extern __host__ cudaError_t CUDARTAPI cudaDeviceSynchronize(void);
                """);
        CHeader.Function copy = header.functions.get("cudaMemcpyAsync");
        assertEquals(List.of("ADDRESS", "ADDRESS", "JAVA_LONG", "JAVA_INT", "ADDRESS"),
                copy.parameterTypes().stream().map(header::kindOf).toList());
        assertEquals("JAVA_INT", header.kindOf(copy.returnType()));
        assertEquals(List.of("ADDRESS", "STRUCT:64", "JAVA_INT"),
                header.functions.get("cudaIpcOpenMemHandle").parameterTypes().stream().map(header::kindOf).toList());
        assertEquals("ADDRESS", header.kindOf(header.functions.get("cudaGetErrorName").returnType()));
        assertEquals(List.of(), header.functions.get("cudaDeviceSynchronize").parameterTypes());
    }

    @Test
    void shouldResolveDefinedAliasesAndPerThreadStreamRemaps() throws IOException {
        CHeader header = parse("""
                #define __CUDART_API_PTDS(api) api
                #define cudaMemcpy __CUDART_API_PTDS(cudaMemcpy)
                #define cuDeviceTotalMem cuDeviceTotalMem_v2
                typedef int CUdevice_v1;
                typedef CUdevice_v1 CUdevice;
                typedef enum cudaError_enum { CUDA_SUCCESS = 0, CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_X = 0x10 } CUresult;
                CUresult CUDAAPI cuDeviceTotalMem(size_t *bytes, CUdevice dev);
                cudaError_t cudaMemcpy(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind);
                #undef cuDeviceTotalMem
                CUresult CUDAAPI cuDeviceTotalMem(unsigned int *bytes, CUdevice dev);
                """);
        assertEquals(List.of("size_t *", "CUdevice"), header.functions.get("cuDeviceTotalMem_v2").parameterTypes());
        assertEquals("JAVA_INT", header.kindOf("CUdevice"));
        assertEquals("JAVA_INT", header.kindOf("CUresult"));
        assertEquals(Map.of("CUDA_SUCCESS", 0L, "CUDA_ERROR_INVALID_VALUE", 1L, "CUDA_ERROR_X", 16L), header.enums.get("CUresult"));
        assertEquals(4, header.functions.get("cudaMemcpy").parameterTypes().size());
    }
}
