/* torch_golden.h — the PyTorch side of the model golden tests (test_swap_model, test_learn_mask):
 * bench/torch_reference.py's module loads our model file strictly (every name and shape; a 4th mask
 * channel when swaplab.arch says "mask": true), runs the encoder and decoder D on our input and
 * writes its output as safetensors. Run as: python3 SCRIPT MODEL INPUT OUTPUT D */
#ifndef SL_TESTS_TORCH_GOLDEN_H
#define SL_TESTS_TORCH_GOLDEN_H

#include <stdlib.h>
#include <unistd.h>

static int have_torch(void) {
    if (access("/usr/bin/python3", X_OK) != 0) return 0;
    return system("/usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1") == 0;
}

static const char *TORCH_GOLDEN_PY =
    "import json, struct, sys\n"
    "import numpy as np, torch\n"
    "sys.path.insert(0, 'bench')\n"
    "import torch_reference as tr\n"
    "def load(path):\n"
    "    raw = open(path, 'rb').read()\n"
    "    (n,) = struct.unpack('<Q', raw[:8])\n"
    "    h = json.loads(raw[8:8 + n])\n"
    "    meta = h.pop('__metadata__', {})\n"
    "    buf = raw[8 + n:]\n"
    "    return meta, {k: torch.from_numpy(np.frombuffer(buf[v['data_offsets'][0]:v['data_offsets'][1]],\n"
    "                  dtype='<f4').reshape(v['shape']).copy()) for k, v in h.items()}\n"
    "model_path, in_path, out_path, dec = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])\n"
    "meta, sd = load(model_path)\n"
    "arch = json.loads(meta['swaplab.arch'])\n"
    "m = tr.SwapModel(arch['preset'], arch['identities'], mask=arch.get('mask', False))\n"
    "m.load_state_dict(sd, strict=True)\n"
    "_, x = load(in_path)\n"
    "with torch.no_grad():\n"
    "    y = m.decoders[dec](m.encoder(x['x'])).numpy().astype('<f4')\n"
    "hj = json.dumps({'y': {'dtype': 'F32', 'shape': list(y.shape), 'data_offsets': [0, y.nbytes]}}).encode()\n"
    "hj += b' ' * (-len(hj) % 8)\n"
    "open(out_path, 'wb').write(struct.pack('<Q', len(hj)) + hj + y.tobytes())\n";

#endif
