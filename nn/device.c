/* device.c — device selection (see device.h). The CUDA backend plugs in here through
 * nn_cuda_backend_* (nn/cuda/) when the build defines SL_HAVE_CUDA_BACKEND. */
#include "nn/device.h"

#include <string.h>

#ifdef SL_HAVE_CUDA_BACKEND
#include "nn/cuda/backend.h"
#endif

int nn_cuda_usable(void) {
#ifdef SL_HAVE_CUDA_BACKEND
    return nn_cuda_backend_device_count() > 0;
#else
    return 0;
#endif
}

int nn_device_select(NnCtx *ctx, const char *name, SlErr *err) {
    if (!strcmp(name, "cpu")) {
        ctx->device = NN_CPU;
        return 0;
    }
    if (strcmp(name, "cuda") && strcmp(name, "auto"))
        return sl_fail(err, "unknown device '%s' (use cpu, cuda or auto)", name);
#ifdef SL_HAVE_CUDA_BACKEND
    if (nn_cuda_usable()) return nn_cuda_backend_init(ctx, err);
    if (!strcmp(name, "cuda"))
        return sl_fail(err, "--device cuda: no usable NVIDIA GPU found (%s); use --device cpu or auto",
                       nn_cuda_backend_why());
#else
    if (!strcmp(name, "cuda"))
        return sl_fail(err, "--device cuda: this swaplab was built without the CUDA backend (nvcc was not "
                            "found at build time); use --device cpu or auto");
#endif
    sl_info("no usable GPU: running on the CPU");
    ctx->device = NN_CPU;
    return 0;
}

void nn_device_release(NnCtx *ctx) {
#ifdef SL_HAVE_CUDA_BACKEND
    if (ctx->device == NN_CUDA) nn_cuda_backend_release(ctx);
#endif
    ctx->device = NN_CPU;
}
