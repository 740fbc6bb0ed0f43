package io.yatt.ffi.cuda;

/**
 * Every {@code cudaError_t} code of the CUDA runtime ({@code enum cudaError} in {@code driver_types.h}),
 * under its C name so messages read like the CUDA documentation: {@code cudaErrorInsufficientDriver(35)}.
 * Immutable.
 */
public enum CudaError {
    cudaSuccess(0),
    cudaErrorInvalidValue(1),
    cudaErrorMemoryAllocation(2),
    cudaErrorInitializationError(3),
    cudaErrorCudartUnloading(4),
    cudaErrorProfilerDisabled(5),
    cudaErrorProfilerNotInitialized(6),
    cudaErrorProfilerAlreadyStarted(7),
    cudaErrorProfilerAlreadyStopped(8),
    cudaErrorInvalidConfiguration(9),
    cudaErrorInvalidPitchValue(12),
    cudaErrorInvalidSymbol(13),
    cudaErrorInvalidHostPointer(16),
    cudaErrorInvalidDevicePointer(17),
    cudaErrorInvalidTexture(18),
    cudaErrorInvalidTextureBinding(19),
    cudaErrorInvalidChannelDescriptor(20),
    cudaErrorInvalidMemcpyDirection(21),
    cudaErrorAddressOfConstant(22),
    cudaErrorTextureFetchFailed(23),
    cudaErrorTextureNotBound(24),
    cudaErrorSynchronizationError(25),
    cudaErrorInvalidFilterSetting(26),
    cudaErrorInvalidNormSetting(27),
    cudaErrorMixedDeviceExecution(28),
    cudaErrorNotYetImplemented(31),
    cudaErrorMemoryValueTooLarge(32),
    cudaErrorStubLibrary(34),
    cudaErrorInsufficientDriver(35),
    cudaErrorCallRequiresNewerDriver(36),
    cudaErrorInvalidSurface(37),
    cudaErrorDuplicateVariableName(43),
    cudaErrorDuplicateTextureName(44),
    cudaErrorDuplicateSurfaceName(45),
    cudaErrorDevicesUnavailable(46),
    cudaErrorIncompatibleDriverContext(49),
    cudaErrorMissingConfiguration(52),
    cudaErrorPriorLaunchFailure(53),
    cudaErrorLaunchMaxDepthExceeded(65),
    cudaErrorLaunchFileScopedTex(66),
    cudaErrorLaunchFileScopedSurf(67),
    cudaErrorSyncDepthExceeded(68),
    cudaErrorLaunchPendingCountExceeded(69),
    cudaErrorInvalidDeviceFunction(98),
    cudaErrorNoDevice(100),
    cudaErrorInvalidDevice(101),
    cudaErrorDeviceNotLicensed(102),
    cudaErrorSoftwareValidityNotEstablished(103),
    cudaErrorStartupFailure(127),
    cudaErrorInvalidKernelImage(200),
    cudaErrorDeviceUninitialized(201),
    cudaErrorMapBufferObjectFailed(205),
    cudaErrorUnmapBufferObjectFailed(206),
    cudaErrorArrayIsMapped(207),
    cudaErrorAlreadyMapped(208),
    cudaErrorNoKernelImageForDevice(209),
    cudaErrorAlreadyAcquired(210),
    cudaErrorNotMapped(211),
    cudaErrorNotMappedAsArray(212),
    cudaErrorNotMappedAsPointer(213),
    cudaErrorECCUncorrectable(214),
    cudaErrorUnsupportedLimit(215),
    cudaErrorDeviceAlreadyInUse(216),
    cudaErrorPeerAccessUnsupported(217),
    cudaErrorInvalidPtx(218),
    cudaErrorInvalidGraphicsContext(219),
    cudaErrorNvlinkUncorrectable(220),
    cudaErrorJitCompilerNotFound(221),
    cudaErrorUnsupportedPtxVersion(222),
    cudaErrorJitCompilationDisabled(223),
    cudaErrorUnsupportedExecAffinity(224),
    cudaErrorUnsupportedDevSideSync(225),
    cudaErrorContained(226),
    cudaErrorInvalidSource(300),
    cudaErrorFileNotFound(301),
    cudaErrorSharedObjectSymbolNotFound(302),
    cudaErrorSharedObjectInitFailed(303),
    cudaErrorOperatingSystem(304),
    cudaErrorInvalidResourceHandle(400),
    cudaErrorIllegalState(401),
    cudaErrorLossyQuery(402),
    cudaErrorSymbolNotFound(500),
    cudaErrorNotReady(600),
    cudaErrorIllegalAddress(700),
    cudaErrorLaunchOutOfResources(701),
    cudaErrorLaunchTimeout(702),
    cudaErrorLaunchIncompatibleTexturing(703),
    cudaErrorPeerAccessAlreadyEnabled(704),
    cudaErrorPeerAccessNotEnabled(705),
    cudaErrorSetOnActiveProcess(708),
    cudaErrorContextIsDestroyed(709),
    cudaErrorAssert(710),
    cudaErrorTooManyPeers(711),
    cudaErrorHostMemoryAlreadyRegistered(712),
    cudaErrorHostMemoryNotRegistered(713),
    cudaErrorHardwareStackError(714),
    cudaErrorIllegalInstruction(715),
    cudaErrorMisalignedAddress(716),
    cudaErrorInvalidAddressSpace(717),
    cudaErrorInvalidPc(718),
    cudaErrorLaunchFailure(719),
    cudaErrorCooperativeLaunchTooLarge(720),
    cudaErrorTensorMemoryLeak(721),
    cudaErrorNotPermitted(800),
    cudaErrorNotSupported(801),
    cudaErrorSystemNotReady(802),
    cudaErrorSystemDriverMismatch(803),
    cudaErrorCompatNotSupportedOnDevice(804),
    cudaErrorMpsConnectionFailed(805),
    cudaErrorMpsRpcFailure(806),
    cudaErrorMpsServerNotReady(807),
    cudaErrorMpsMaxClientsReached(808),
    cudaErrorMpsMaxConnectionsReached(809),
    cudaErrorMpsClientTerminated(810),
    cudaErrorCdpNotSupported(811),
    cudaErrorCdpVersionMismatch(812),
    cudaErrorStreamCaptureUnsupported(900),
    cudaErrorStreamCaptureInvalidated(901),
    cudaErrorStreamCaptureMerge(902),
    cudaErrorStreamCaptureUnmatched(903),
    cudaErrorStreamCaptureUnjoined(904),
    cudaErrorStreamCaptureIsolation(905),
    cudaErrorStreamCaptureImplicit(906),
    cudaErrorCapturedEvent(907),
    cudaErrorStreamCaptureWrongThread(908),
    cudaErrorTimeout(909),
    cudaErrorGraphExecUpdateFailure(910),
    cudaErrorExternalDevice(911),
    cudaErrorInvalidClusterSize(912),
    cudaErrorFunctionNotLoaded(913),
    cudaErrorInvalidResourceType(914),
    cudaErrorInvalidResourceConfiguration(915),
    cudaErrorUnknown(999),
    cudaErrorApiFailureBase(10000);

    private static final int DENSE_LIMIT = 1000;
    private static final CudaError[] DENSE = new CudaError[DENSE_LIMIT];

    static {
        for (CudaError error : values()) {
            if (error.code < DENSE_LIMIT) {
                DENSE[error.code] = error;
            }
        }
    }

    private final int code;

    CudaError(int code) {
        this.code = code;
    }

    /** @return the numeric {@code cudaError_t} value */
    public int code() {
        return code;
    }

    /**
     * @param code a {@code cudaError_t} value
     * @return the constant with that code
     * @throws IllegalArgumentException when the code is not in {@code driver_types.h} of CUDA 13
     */
    public static CudaError of(int code) {
        CudaError error = find(code);
        if (error == null) {
            throw new IllegalArgumentException("unknown cudaError_t: code=" + code);
        }
        return error;
    }

    /**
     * @param code a {@code cudaError_t} value
     * @return the constant with that code, or {@code null} for a code this enum does not know (a newer runtime)
     */
    public static CudaError find(int code) {
        if (code >= 0 && code < DENSE_LIMIT) {
            return DENSE[code];
        }
        return code == cudaErrorApiFailureBase.code ? cudaErrorApiFailureBase : null;
    }

    /** @return {@code name(code)}, e.g. {@code cudaErrorMemoryAllocation(2)} */
    public String describe() {
        return name() + "(" + code + ")";
    }
}
