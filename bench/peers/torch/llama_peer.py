#!/usr/bin/env python3
"""PyTorch CPU eager peer of Yatt's Llama model (plain torch >= 1.13, no transformers, no pip packages).

The architecture is Hugging Face's LlamaForCausalLM: token embedding, RMSNorm, rotary position embedding
(rotate_half convention), grouped-query attention with a causal mask, SwiGLU MLP, final norm and lm_head (tied
to the embedding or not). Weights come from a checkpoint folder (config.json with LlamaConfig keys and
model.safetensors with Hugging Face names, read here without the safetensors package) or are drawn from a seed.

Modes (each prints JSON lines on stdout):
  --size small|large [--threads 1,2]    benchmark: forward+backward tokens/s (batch x seq tokens per step,
                                        cross-entropy loss, no optimizer unless --optimizer) and generation
                                        tokens/s (batch 16, greedy, KV cache: new tokens per second, the
                                        prompt's prefill included in the time), per thread count
  --checkpoint DIR --logits 1,2,3       logits for token ids (several sequences: separate them with ';')
  --save DIR                            write the model (seeded or loaded) as a checkpoint folder
"""

import argparse
import json
import math
import os
import struct
import sys
import time
import ctypes

import torch
import torch.nn.functional as F


def loaded_openblas():
    """The OpenBLAS library this process loaded with torch (Debian's torch calls it for matrix products), or None."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                if "libopenblas" in os.path.basename(path):
                    return ctypes.CDLL(path)
    except OSError:
        pass
    return None


def set_threads(threads):
    """torch.set_num_threads(n) and the same for the OpenBLAS under it, which keeps one thread per core otherwise
    (so a '1 thread' peer would use every core); returns the BLAS thread count set, or None without OpenBLAS."""
    torch.set_num_threads(threads)
    blas = loaded_openblas()
    if blas is None or not hasattr(blas, "openblas_set_num_threads"):
        return None
    blas.openblas_set_num_threads(ctypes.c_int(threads))
    return int(blas.openblas_get_num_threads()) if hasattr(blas, "openblas_get_num_threads") else threads

PRESETS = {
    # about 1M parameters
    "small": dict(hidden_size=128, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
                  intermediate_size=512, vocab_size=64),
    # about 25M parameters (27.4M with the embedding tied to lm_head)
    "large": dict(hidden_size=512, num_hidden_layers=8, num_attention_heads=8, num_key_value_heads=4,
                  intermediate_size=1376, vocab_size=8192),
}

CONFIG_DEFAULTS = dict(rms_norm_eps=1e-5, rope_theta=10000.0, max_position_embeddings=2048,
                       tie_word_embeddings=True, torch_dtype="float32", architectures=["LlamaForCausalLM"],
                       model_type="llama")

SAFETENSORS_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
}
DTYPE_NAMES = {v: k for k, v in SAFETENSORS_DTYPES.items()}


# ---- safetensors: 8-byte little-endian header length, JSON header, raw little-endian data

def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"not a safetensors file: {path}: {len(data)} bytes, expected at least 8")
    (header_len,) = struct.unpack("<Q", data[:8])
    if 8 + header_len > len(data):
        raise ValueError(f"safetensors header past the end: {path}: headerLength={header_len}, size={len(data)}")
    header = json.loads(data[8:8 + header_len].decode("utf-8"))
    base = 8 + header_len
    tensors = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        dtype = SAFETENSORS_DTYPES.get(meta["dtype"])
        if dtype is None:
            raise ValueError(f"unsupported dtype: tensor={name}, dtype={meta['dtype']}")
        start, end = meta["data_offsets"]
        shape = list(meta["shape"])
        count = math.prod(shape)
        itemsize = torch.empty((), dtype=dtype).element_size()
        if end - start != count * itemsize or base + end > len(data):
            raise ValueError(f"tensor data does not match its shape: tensor={name}, shape={shape}, "
                             f"dataOffsets=[{start}, {end}], fileSize={len(data)}")
        if count == 0:
            tensors[name] = torch.empty(shape, dtype=dtype)
        else:
            tensors[name] = torch.frombuffer(bytearray(data[base + start:base + end]), dtype=dtype).reshape(shape)
    return tensors


def write_safetensors(path, tensors):
    header = {}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        raw = t.view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * ((8 - len(encoded) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for raw in chunks:
            f.write(raw)


# ---- the model

class Llama(torch.nn.Module):
    """LlamaForCausalLM's computation on named parameters with Hugging Face's names and [out, in] layout."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        h = config["hidden_size"]
        self.heads = config["num_attention_heads"]
        self.kv_heads = config["num_key_value_heads"]
        if h % self.heads != 0 or self.heads % self.kv_heads != 0:
            raise ValueError(f"heads must divide hidden_size and kv heads must divide heads: hidden_size={h}, "
                             f"num_attention_heads={self.heads}, num_key_value_heads={self.kv_heads}")
        self.head_dim = h // self.heads
        self.eps = config["rms_norm_eps"]
        self.tied = config["tie_word_embeddings"]
        self.params = torch.nn.ParameterDict()
        f = config["intermediate_size"]
        v = config["vocab_size"]
        kv = self.kv_heads * self.head_dim
        shapes = {"model.embed_tokens.weight": (v, h), "model.norm.weight": (h,)}
        for i in range(config["num_hidden_layers"]):
            p = f"model.layers.{i}."
            shapes.update({
                p + "self_attn.q_proj.weight": (h, h), p + "self_attn.k_proj.weight": (kv, h),
                p + "self_attn.v_proj.weight": (kv, h), p + "self_attn.o_proj.weight": (h, h),
                p + "mlp.gate_proj.weight": (f, h), p + "mlp.up_proj.weight": (f, h),
                p + "mlp.down_proj.weight": (h, f),
                p + "input_layernorm.weight": (h,), p + "post_attention_layernorm.weight": (h,),
            })
        if not self.tied:
            shapes["lm_head.weight"] = (v, h)
        self.shapes = shapes
        inv_freq = 1.0 / (config["rope_theta"] ** (torch.arange(0, self.head_dim, 2, dtype=torch.float32)
                                                   / self.head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    # ParameterDict keys may not contain '.', so names are stored with '/' and mapped back
    def p(self, name):
        return self.params[name.replace(".", "/")]

    def init_seeded(self, seed, std=0.02):
        g = torch.Generator().manual_seed(seed)
        for name, shape in self.shapes.items():
            if len(shape) == 1:
                t = torch.ones(shape)
            else:
                t = torch.randn(shape, generator=g) * std
            self.params[name.replace(".", "/")] = torch.nn.Parameter(t)
        return self

    def load(self, tensors):
        for name, shape in self.shapes.items():
            if name not in tensors:
                raise ValueError(f"tensor missing from checkpoint: {name}, expected shape {list(shape)}")
            t = tensors[name]
            if tuple(t.shape) != tuple(shape):
                raise ValueError(f"tensor misshaped: {name}: shape={list(t.shape)}, expected {list(shape)}")
            self.params[name.replace(".", "/")] = torch.nn.Parameter(t.to(torch.float32).clone())
        return self

    def state(self):
        out = {name: self.p(name) for name in self.shapes}
        if self.tied:
            out["lm_head.weight"] = self.p("model.embed_tokens.weight")
        return out

    def parameter_count(self):
        return sum(math.prod(s) for s in self.shapes.values())

    def rope(self, positions):
        freqs = torch.outer(positions.to(torch.float32), self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos(), emb.sin()

    @staticmethod
    def rotate_half(x):
        half = x.shape[-1] // 2
        return torch.cat((-x[..., half:], x[..., :half]), dim=-1)

    def rms_norm(self, x, weight):
        variance = x.pow(2).mean(-1, keepdim=True)
        return weight * (x * torch.rsqrt(variance + self.eps))

    def attention(self, i, x, cos, sin, cache=None, start=0):
        b, t, _ = x.shape
        p = f"model.layers.{i}.self_attn."
        q = F.linear(x, self.p(p + "q_proj.weight")).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = F.linear(x, self.p(p + "k_proj.weight")).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = F.linear(x, self.p(p + "v_proj.weight")).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        q = q * cos + self.rotate_half(q) * sin
        k = k * cos + self.rotate_half(k) * sin
        if cache is not None:
            k_cache, v_cache = cache
            k_cache[:, :, start:start + t] = k
            v_cache[:, :, start:start + t] = v
            k = k_cache[:, :, :start + t]
            v = v_cache[:, :, :start + t]
        total = k.shape[2]
        rep = self.heads // self.kv_heads
        if rep > 1:
            k = k[:, :, None].expand(b, self.kv_heads, rep, total, self.head_dim).reshape(b, self.heads, total,
                                                                                          self.head_dim)
            v = v[:, :, None].expand(b, self.kv_heads, rep, total, self.head_dim).reshape(b, self.heads, total,
                                                                                          self.head_dim)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.head_dim)
        if t > 1:
            # query at position start+r sees keys 0..start+r
            mask = torch.full((t, total), float("-inf")).triu(start + 1)
            scores = scores + mask
        probs = torch.softmax(scores, dim=-1, dtype=torch.float32)
        out = torch.matmul(probs, v).transpose(1, 2).reshape(b, t, self.heads * self.head_dim)
        return F.linear(out, self.p(p + "o_proj.weight"))

    def mlp(self, i, x):
        p = f"model.layers.{i}.mlp."
        return F.linear(F.silu(F.linear(x, self.p(p + "gate_proj.weight"))) * F.linear(x, self.p(p + "up_proj.weight")),
                        self.p(p + "down_proj.weight"))

    def forward(self, tokens, caches=None, start=0):
        """Logits [batch, seq, vocab] for tokens [batch, seq] at positions start..start+seq-1."""
        x = F.embedding(tokens, self.p("model.embed_tokens.weight"))
        cos, sin = self.rope(torch.arange(start, start + tokens.shape[1]))
        for i in range(self.config["num_hidden_layers"]):
            p = f"model.layers.{i}."
            x = x + self.attention(i, self.rms_norm(x, self.p(p + "input_layernorm.weight")), cos, sin,
                                   None if caches is None else caches[i], start)
            x = x + self.mlp(i, self.rms_norm(x, self.p(p + "post_attention_layernorm.weight")))
        x = self.rms_norm(x, self.p("model.norm.weight"))
        head = self.p("model.embed_tokens.weight") if self.tied else self.p("lm_head.weight")
        return F.linear(x, head)

    def generate(self, prompt, new_tokens):
        """Greedy decoding with a preallocated KV cache; returns [batch, prompt + new] token ids."""
        b, t = prompt.shape
        total = t + new_tokens
        caches = [(torch.zeros(b, self.kv_heads, total, self.head_dim),
                   torch.zeros(b, self.kv_heads, total, self.head_dim))
                  for _ in range(self.config["num_hidden_layers"])]
        out = torch.empty(b, total, dtype=torch.long)
        out[:, :t] = prompt
        logits = self.forward(prompt, caches, 0)
        for step in range(new_tokens):
            nxt = logits[:, -1].argmax(-1)
            out[:, t + step] = nxt
            if step + 1 < new_tokens:
                logits = self.forward(nxt[:, None], caches, t + step)
        return out


# ---- checkpoints

def load_checkpoint(folder):
    config_path = os.path.join(folder, "config.json")
    if not os.path.isfile(config_path):
        raise ValueError(f"config.json missing: checkpoint={folder}")
    with open(config_path) as f:
        raw = json.load(f)
    config = dict(CONFIG_DEFAULTS)
    config.update(raw)
    for key in ("hidden_size", "intermediate_size", "num_attention_heads", "num_hidden_layers", "vocab_size"):
        if key not in raw:
            raise ValueError(f"config.json lacks {key}: checkpoint={folder}")
    if "num_key_value_heads" not in raw:
        config["num_key_value_heads"] = config["num_attention_heads"]
    tensors = read_safetensors(os.path.join(folder, "model.safetensors"))
    if config["tie_word_embeddings"] and "lm_head.weight" in tensors:
        if not torch.equal(tensors["lm_head.weight"], tensors["model.embed_tokens.weight"]):
            raise ValueError("tie_word_embeddings is true but lm_head.weight differs from model.embed_tokens.weight")
    return Llama(config).load(tensors)


def save_checkpoint(model, folder):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(model.config, f, indent=2, sort_keys=True)
        f.write("\n")
    tensors = {name: t.detach() for name, t in model.state().items()}
    if model.tied:
        tensors.pop("lm_head.weight")
    write_safetensors(os.path.join(folder, "model.safetensors"), tensors)


def build_config(args):
    config = dict(CONFIG_DEFAULTS)
    config.update(PRESETS[args.size])
    for key, value in (("hidden_size", args.hidden), ("num_hidden_layers", args.layers),
                       ("num_attention_heads", args.heads), ("num_key_value_heads", args.kv_heads),
                       ("intermediate_size", args.ffn), ("vocab_size", args.vocab)):
        if value is not None:
            config[key] = value
    if args.untied:
        config["tie_word_embeddings"] = False
    return config


# ---- benchmarks

def bench_train(model, batch, seq, steps, optimizer):
    g = torch.Generator().manual_seed(1)
    vocab = model.config["vocab_size"]
    tokens = torch.randint(0, vocab, (batch, seq + 1), generator=g)
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    params = list(model.parameters())
    opt = torch.optim.AdamW(params, lr=1e-4) if optimizer else None

    def step():
        for p in params:
            p.grad = None
        logits = model(inputs)
        loss = F.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1))
        loss.backward()
        if opt is not None:
            opt.step()
        return loss

    step()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        step()
    elapsed = time.perf_counter() - start
    return batch * seq * steps / elapsed, elapsed / steps


def bench_generate(model, batch, prompt_len, new_tokens, repeats):
    g = torch.Generator().manual_seed(2)
    prompt = torch.randint(0, model.config["vocab_size"], (batch, prompt_len), generator=g)
    with torch.no_grad():
        model.generate(prompt, 2)  # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            model.generate(prompt, new_tokens)
        elapsed = time.perf_counter() - start
    return batch * new_tokens * repeats / elapsed


def self_check(model):
    """KV-cached decoding against full forwards, and a checkpoint round trip, on this model's weights."""
    import tempfile
    g = torch.Generator().manual_seed(3)
    vocab = model.config["vocab_size"]
    tokens = torch.randint(0, vocab, (2, 12), generator=g)
    with torch.no_grad():
        full = model(tokens)
        caches = [(torch.zeros(2, model.kv_heads, 12, model.head_dim), torch.zeros(2, model.kv_heads, 12, model.head_dim))
                  for _ in range(model.config["num_hidden_layers"])]
        first = model(tokens[:, :5], caches, 0)
        steps = [model(tokens[:, t:t + 1], caches, t) for t in range(5, 12)]
        cached = torch.cat([first] + steps, dim=1)
        cache_error = (full - cached).abs().max().item()
        with tempfile.TemporaryDirectory() as folder:
            save_checkpoint(model, folder)
            reloaded = load_checkpoint(folder)(tokens)
        round_trip_equal = torch.equal(full, reloaded)
    ok = cache_error <= 1e-5 and round_trip_equal
    print(json.dumps({"check": "kv_cache_vs_full_forward", "max_abs_error": cache_error, "tolerance": 1e-5}))
    print(json.dumps({"check": "safetensors_round_trip", "bit_identical": round_trip_equal}))
    return 0 if ok else 1


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="checkpoint folder (config.json + model.safetensors)")
    parser.add_argument("--size", choices=sorted(PRESETS), default="small", help="preset without --checkpoint")
    parser.add_argument("--seed", type=int, default=1234, help="seed of the weights without --checkpoint")
    parser.add_argument("--hidden", type=int)
    parser.add_argument("--layers", type=int)
    parser.add_argument("--heads", type=int)
    parser.add_argument("--kv-heads", type=int)
    parser.add_argument("--ffn", type=int)
    parser.add_argument("--vocab", type=int)
    parser.add_argument("--untied", action="store_true", help="separate lm_head (default: tied to the embedding)")
    parser.add_argument("--save", help="write the model as a checkpoint folder, then exit")
    parser.add_argument("--logits", help="print logits for token ids: '1,2,3' or '1,2;3,4,5'")
    parser.add_argument("--self-check", action="store_true",
                        help="check that KV-cached decoding and a safetensors round trip reproduce the logits")
    parser.add_argument("--threads", default="1,2", help="comma-separated torch thread counts to benchmark")
    parser.add_argument("--batch", type=int, default=8, help="training batch")
    parser.add_argument("--seq", type=int, default=64, help="training sequence length")
    parser.add_argument("--steps", type=int, default=5, help="measured training steps")
    parser.add_argument("--optimizer", action="store_true", help="include an AdamW step in each training step")
    parser.add_argument("--gen-batch", type=int, default=16)
    parser.add_argument("--prompt", type=int, default=16, help="prompt length for generation")
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--gen-repeats", type=int, default=2)
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    if args.checkpoint:
        model = load_checkpoint(args.checkpoint)
    else:
        model = Llama(build_config(args)).init_seeded(args.seed)

    if args.save:
        save_checkpoint(model, args.save)
        print(json.dumps({"saved": args.save, "params": model.parameter_count()}))
        return 0

    if args.self_check:
        return self_check(model)

    if args.logits is not None:
        set_threads(1)
        vocab = model.config["vocab_size"]
        with torch.no_grad():
            for part in args.logits.split(";"):
                ids = [int(x) for x in part.split(",") if x.strip()]
                for token in ids:
                    if not 0 <= token < vocab:
                        raise ValueError(f"token id out of range: token={token}, vocab={vocab}")
                logits = model(torch.tensor([ids], dtype=torch.long))[0]
                print(json.dumps({"tokens": ids, "logits": logits.tolist()}))
        return 0

    common = {"peer": "torch", "torch": torch.__version__, "size": args.checkpoint or args.size,
              "params": model.parameter_count()}
    for threads in [int(t) for t in args.threads.split(",")]:
        blas_threads = set_threads(threads)
        common["blas_threads"] = blas_threads
        tokens_per_s, step_s = bench_train(model, args.batch, args.seq, args.steps, args.optimizer)
        print(json.dumps(dict(common, op="train_step" if args.optimizer else "forward_backward", threads=threads,
                              batch=args.batch, seq=args.seq, tokens_per_s=round(tokens_per_s, 1),
                              step_ms=round(step_s * 1e3, 2))), flush=True)
        gen = bench_generate(model, args.gen_batch, args.prompt, args.new_tokens, args.gen_repeats)
        print(json.dumps(dict(common, op="generate", threads=threads, batch=args.gen_batch, prompt=args.prompt,
                              new_tokens=args.new_tokens, tokens_per_s=round(gen, 1))), flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except ValueError as e:
        print(f"llama_peer: {e}", file=sys.stderr)
        sys.exit(2)
