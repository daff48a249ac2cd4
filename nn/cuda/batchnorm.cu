/* batchnorm.cu — batch normalisation per channel over (N, H*W) on the GPU with PyTorch semantics as
 * nn/ops/batchnorm.c: training normalises with the batch mean and biased variance (two passes, sums
 * in double), updates running_mean/var (unbiased) and num_batches; eval uses the running stats.
 * One block per channel computes the statistics; the normalisation is a grid-stride kernel.
 * https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html (Ioffe & Szegedy 2015,
 * https://arxiv.org/abs/1502.03167) */
#include "nn/cuda/common.cuh"

#define BN_THREADS 512

__global__ static void k_bn_stats(float *mean, float *invstd, const float *in, float *rm, float *rv, int B, int C,
                                  int HW, int training, float momentum, float eps) {
    int c = blockIdx.x;
    size_t cnt = (size_t)B * HW;
    __shared__ double mu_s;
    if (!training) {
        if (threadIdx.x == 0) {
            double var = rv[c];
            mean[c] = rm[c];
            invstd[c] = (float)(1.0 / sqrt(var + eps));
        }
        return;
    }
    double s = 0;
    for (size_t i = threadIdx.x; i < cnt; i += blockDim.x) s += in[((i / HW) * C + c) * HW + i % HW];
    s = block_sum(s);
    if (threadIdx.x == 0) mu_s = s / (double)cnt;
    __syncthreads();
    double mu = mu_s, ss = 0;
    for (size_t i = threadIdx.x; i < cnt; i += blockDim.x) {
        double d = in[((i / HW) * C + c) * HW + i % HW] - mu;
        ss += d * d;
    }
    ss = block_sum(ss);
    if (threadIdx.x == 0) {
        double var = ss / (double)cnt;
        rm[c] = (float)((1.0 - momentum) * rm[c] + momentum * mu);
        rv[c] = (float)((1.0 - momentum) * rv[c] + momentum * ss / (double)(cnt - 1));
        mean[c] = (float)mu;
        invstd[c] = (float)(1.0 / sqrt(var + eps));
    }
}

__global__ static void k_bn_apply(float *out, const float *in, const float *mean, const float *invstd,
                                  const float *gamma, const float *beta, size_t total, int C, int HW,
                                  float *num_batches) {
    GRID_STRIDE(e, total) {
        int c = (int)((e / HW) % C);
        float g = gamma ? gamma[c] : 1.0f, bb = beta ? beta[c] : 0.0f;
        out[e] = (in[e] - mean[c]) * invstd[c] * g + bb;
    }
    if (num_batches && blockIdx.x == 0 && threadIdx.x == 0) *num_batches += 1.0f;
}

extern "C" void nn_cuda_batchnorm_forward(float *out, float *mean, float *invstd, const float *in, const float *gamma,
                                          const float *beta, float *running_mean, float *running_var,
                                          float *num_batches, int B, int C, int HW, int training, float momentum,
                                          float eps, NnCtx *ctx) {
    size_t cnt = (size_t)B * HW, total = cnt * C;
    if (training && cnt <= 1) sl_die_at(__FILE__, __LINE__, "batch norm in training needs more than one value per channel");
    if (!total) return;
    cudaStream_t st = cuda_stream(ctx);
    k_bn_stats<<<C, BN_THREADS, 0, st>>>(mean, invstd, in, running_mean, running_var, B, C, HW, training, momentum, eps);
    LAUNCH_CHECK();
    k_bn_apply<<<nn_blocks(total), NN_THREADS, 0, st>>>(out, in, mean, invstd, gamma, beta, total, C, HW,
                                                         training ? num_batches : NULL);
    LAUNCH_CHECK();
}

/* One block per channel: sums of dout and dout*xhat, parameter gradients, then the input gradient. */
__global__ static void k_bn_bwd(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                                const float *mean, const float *invstd, const float *gamma, int B, int C, int HW,
                                int training) {
    int c = blockIdx.x;
    size_t cnt = (size_t)B * HW;
    float m = mean[c], is = invstd[c], g = gamma ? gamma[c] : 1.0f;
    double sd = 0, sdx = 0;
    for (size_t i = threadIdx.x; i < cnt; i += blockDim.x) {
        size_t e = ((i / HW) * C + c) * HW + i % HW;
        float d = dout[e];
        sd += d;
        sdx += (double)d * ((in[e] - m) * is);
    }
    sd = block_sum(sd);
    __shared__ double sums[2];
    if (threadIdx.x == 0) sums[0] = sd;
    __syncthreads();
    sdx = block_sum(sdx);
    if (threadIdx.x == 0) {
        sums[1] = sdx;
        if (dgamma) dgamma[c] += (float)sdx;
        if (dbeta) dbeta[c] += (float)sums[0];
    }
    __syncthreads();
    if (!din) return;
    float k = g * is;
    float a = training ? (float)(sums[0] / (double)cnt) : 0.0f;
    float bcoef = training ? (float)(sums[1] / (double)cnt) : 0.0f;
    for (size_t i = threadIdx.x; i < cnt; i += blockDim.x) {
        size_t e = ((i / HW) * C + c) * HW + i % HW;
        din[e] += k * (dout[e] - a - (in[e] - m) * is * bcoef);
    }
}

extern "C" void nn_cuda_batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                                           const float *in, const float *mean, const float *invstd,
                                           const float *gamma, int B, int C, int HW, int training, NnCtx *ctx) {
    if ((size_t)B * HW * C == 0) return;
    k_bn_bwd<<<C, BN_THREADS, 0, cuda_stream(ctx)>>>(din, dgamma, dbeta, dout, in, mean, invstd, gamma, B, C, HW,
                                                      training);
    LAUNCH_CHECK();
}
