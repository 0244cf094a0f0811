"""Export the kinegraph-tiny model pack from training/checkpoints/latest.pt.

    /usr/bin/python3 training/export.py [--ckpt PATH] [--out models/kinegraph-tiny]

Writes ONNX (opset 17, dynamic batch; SSR also dynamic frames), tokenizer.json,
the style weight files, manifest.json (sizes + sha256 of every file), then runs a
torch-vs-onnxruntime-node parity check (training/parity.mjs) and exits non-zero
if any output differs by more than 1e-4. Models whose stage has not run yet are
exported from their initialisation (STUNet: inflated from the current T2I) and
marked with "trained_steps": 0 in the manifest, so the pack is always complete.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import warnings

import numpy as np
import onnx
from onnx import numpy_helper
import torch

warnings.filterwarnings("ignore", category=UserWarning)  # torch.onnx shape-inference chatter
warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)

import ckpt as ck_io
import data
import schedule
from models.unet import inflate
from sample import SAMPLERS
from tasks import TASK_P, TASKS
from tokenizer import MAX_LEN, PAD_ID, UNK_ID, VOCAB, write_tokenizer_json

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

OPSET = 17
TOL = 1e-4
FPS = 8
VERSION = "0.1.0"
PACK = "kinegraph-tiny"
STYLE_NAME = "outline"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Wrap(torch.nn.Module):
    """Fix the positional signature used for ONNX export."""

    def __init__(self, net, text=True):
        super().__init__()
        self.net, self.text = net, text

    def forward(self, x, t, text_embeddings=None):
        return self.net(x, t, text_embeddings) if self.text else self.net(x, t)


def export_onnx(model, args, path, input_names, output_names, dynamic_axes):
    model.eval()
    with torch.no_grad():
        torch.onnx.export(model, args, path, opset_version=OPSET, input_names=input_names,
                          output_names=output_names, dynamic_axes=dynamic_axes, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path))


def io_spec(name, dtype, dims):
    return {"name": name, "dtype": dtype, "dims": dims}


# ---- style weights: safetensors keyed by STUNet ONNX initializer names ---------

def initializers(path):
    m = onnx.load(path)
    return {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}


def write_safetensors(path, tensors: dict, metadata: dict):
    """Minimal safetensors writer: u64-LE header length, JSON header, raw LE data."""
    header, blobs, off = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype="<f4")
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)  # align data start to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data_ = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        out[k] = np.frombuffer(data_[s:e], dtype="<f4").reshape(v["shape"])
    return out


def style_diff(base_path, style_path):
    """ONNX initializers whose values differ between the base and the style
    export of the same STUNet graph. Same graph => same initializer names."""
    a, b = initializers(base_path), initializers(style_path)
    if a.keys() != b.keys():
        raise RuntimeError("style export produced different initializer names than the base export")
    out = {}
    for k in a:
        if a[k].shape != b[k].shape:
            raise RuntimeError(f"style initializer {k} changed shape")
        if not np.array_equal(a[k], b[k]):
            out[k] = b[k]
    return out


def interpolate_onnx(base_path, style: dict, alpha: float, out_path):
    """What the runtime's StyleAdapter does: W = (1-a) W_base + a W_style by name."""
    m = onnx.load(base_path)
    for init in m.graph.initializer:
        if init.name in style:
            w = numpy_helper.to_array(init)
            new = ((1 - alpha) * w.astype(np.float64) + alpha * style[init.name].astype(np.float64)).astype(w.dtype)
            init.CopyFrom(numpy_helper.from_array(new, init.name))
    onnx.save(m, out_path)


# ---- main ------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default=ck_io.CKPT)
    ap.add_argument("--out", default=os.path.join(ROOT, "models", PACK))
    ap.add_argument("--skip-parity", action="store_true")
    ap.add_argument("--weights", choices=["auto", "ema", "raw"], default="auto",
                    help="STUNet weights: the EMA (checkpoints/ema.pt), the last step's, or auto: the EMA once "
                         "it has averaged 500 steps")
    a = ap.parse_args()
    torch.set_num_threads(1)  # see train.py --threads: 1 thread is faster on the shared box
    torch.manual_seed(0)

    ck = ck_io.load(a.ckpt)
    if ck is None:
        sys.exit(f"no checkpoint at {a.ckpt}: run `make -C training train` first")
    ema = None
    if a.weights != "raw":
        ema = ck_io.load_ema(a.ckpt, min_updates=0 if a.weights == "ema" else 500)
        if ema is None and a.weights == "ema":
            sys.exit(f"no weight EMA at {ck_io.ema_path(a.ckpt)}: train with --ema first, or export --weights raw")
    models, style_state = ck_io.models_from_checkpoint(ck, ema)
    stunet_weights = (f"exponential moving average of the weights (decay {ema['decay']}, {ema['updates']} updates, "
                      f"to step {ema.get('step')})" if ema else "the last training step's weights")
    print(f"stunet weights: {stunet_weights}")
    if ck["weights"].get("stunet") is None:
        inflate(models["stunet"], models["t2i"])
    steps = {k: v.get("steps", 0) for k, v in ck.get("stats", {}).items()}
    trained = {
        "text_encoder": steps.get("t2i", 0), "t2i": steps.get("t2i", 0),
        "stunet": steps.get("stunet", 0) + steps.get("stunet2", 0), "ssr": steps.get("ssr", 0),
    }

    os.makedirs(a.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="kg_export_")
    stage = os.path.join(work, "pack")  # build the pack aside, then swap files in
    os.makedirs(stage)
    L, D, B = MAX_LEN, ck_io.TEXT_DIM, 2
    ids = torch.randint(0, len(VOCAB), (B, L))
    emb = torch.randn(B, L, D)
    tt = torch.tensor([999.0, 10.0])
    batch = {0: "batch"}
    t0 = time.time()

    export_onnx(models["text"], (ids,), os.path.join(stage, "text_encoder.onnx"), ["input_ids"],
                ["text_embeddings"], {"input_ids": batch, "text_embeddings": batch})
    export_onnx(Wrap(models["t2i"]), (torch.randn(B, 3, 32, 32), tt, emb), os.path.join(stage, "t2i_unet.onnx"),
                ["x", "t", "text_embeddings"], ["prediction"],
                {"x": batch, "t": batch, "text_embeddings": batch, "prediction": batch})
    st_args = (torch.randn(B, 7, 16, 32, 32), tt, emb)
    st_axes = {"x": batch, "t": batch, "text_embeddings": batch, "prediction": batch}
    export_onnx(Wrap(models["stunet"]), st_args, os.path.join(stage, "stunet.onnx"),
                ["x", "t", "text_embeddings"], ["prediction"], st_axes)
    fb = {0: "batch", 2: "frames"}
    export_onnx(Wrap(models["ssr"], text=False), (torch.randn(B, 6, 8, 64, 64), tt), os.path.join(stage, "ssr.onnx"),
                ["x", "t"], ["prediction"], {"x": fb, "t": batch, "prediction": fb})

    styles = []
    style_model = None
    if style_state is not None:
        style_model = ck_io.build_all()["stunet"]
        style_model.load_state_dict(style_state)
        tmp = os.path.join(work, "stunet_style.onnx")
        export_onnx(Wrap(style_model), st_args, tmp, ["x", "t", "text_embeddings"], ["prediction"], st_axes)
        tensors = style_diff(os.path.join(stage, "stunet.onnx"), tmp)
        fname = f"style-{STYLE_NAME}.safetensors"
        write_safetensors(os.path.join(stage, fname), tensors,
                          {"format": "kinegraph-style-v1", "target": "stunet.onnx", "style": STYLE_NAME})
        styles.append({
            "name": STYLE_NAME, "file": fname, "target_model": "stunet",
            "description": "hollow outlined shapes (~1.6 px outline at 64 px), StyleDrop-like fine-tune of the "
                           "STUNet spatial layers only",
            "tensors": len(tensors), "trained_steps": steps.get("style", 0),
        })
    write_tokenizer_json(os.path.join(stage, "tokenizer.json"))
    export_s = time.time() - t0

    parity = {} if a.skip_parity else run_parity(models, style_model, stage, work)
    write_manifest(stage, ck, trained, styles, parity, stunet_weights)

    # Swap the new pack in (remove files from an older pack that are gone now).
    for f in os.listdir(a.out):
        if f not in os.listdir(stage) and (f.endswith(".onnx") or f.endswith(".safetensors")):
            os.remove(os.path.join(a.out, f))
    for f in sorted(os.listdir(stage)):
        shutil.copyfile(os.path.join(stage, f), os.path.join(a.out, f + ".tmp"))
        os.replace(os.path.join(a.out, f + ".tmp"), os.path.join(a.out, f))
    shutil.rmtree(work)
    total = sum(os.path.getsize(os.path.join(a.out, f)) for f in os.listdir(a.out))
    print(f"export {export_s:.0f}s; parity max abs diff: {json.dumps(parity)}")
    print(f"pack {a.out}: {total / 1e6:.2f} MB")
    if total > 30e6:
        sys.exit("pack exceeds 30 MB")


def run_parity(models, style_model, stage, work):
    """Run torch on random inputs (batch 3 != export batch 2 to exercise the
    dynamic axis; SSR also with 12 frames), dump fixtures, compare in ORT."""
    fx = os.path.join(work, "fixtures")
    os.makedirs(fx)
    cases = []
    g = torch.Generator().manual_seed(123)

    def dump(name, arr):
        fn = f"{len(os.listdir(fx))}_{name}.bin"
        arr = arr.numpy() if torch.is_tensor(arr) else arr
        arr.astype("<i8" if arr.dtype == np.int64 else "<f4").tofile(os.path.join(fx, fn))
        return fn

    def case(name, model_file, net, inputs: dict):
        with torch.no_grad():
            out = net(*inputs.values())
        ins = [{"name": k, "dtype": "int64" if v.dtype == torch.int64 else "float32", "dims": list(v.shape),
                "file": dump(k, v)} for k, v in inputs.items()]
        cases.append({"name": name, "model": model_file, "inputs": ins,
                      "outputs": [{"name": names_out[name], "dims": list(out.shape), "file": dump("out", out)}]})

    names_out = {}
    b = 3
    ids = torch.randint(0, len(VOCAB), (b, MAX_LEN), generator=g)
    ids[0] = PAD_ID  # the empty (CFG null) prompt
    with torch.no_grad():
        emb = models["text"](ids)
    t = torch.tensor([999.0, 500.0, 0.0])
    p = lambda f: os.path.join(stage, f)  # noqa: E731
    names_out.update(text_encoder="text_embeddings", t2i="prediction", stunet="prediction", ssr_f8="prediction",
                     ssr_f12="prediction", stunet_style_a05="prediction")
    case("text_encoder", p("text_encoder.onnx"), models["text"].eval(), {"input_ids": ids})
    case("t2i", p("t2i_unet.onnx"), Wrap(models["t2i"]).eval(),
         {"x": torch.randn(b, 3, 32, 32, generator=g), "t": t, "text_embeddings": emb})
    xst = torch.randn(b, 7, 16, 32, 32, generator=g)
    xst[:, 6] = (xst[:, 6] > 0).float()
    case("stunet", p("stunet.onnx"), Wrap(models["stunet"]).eval(), {"x": xst, "t": t, "text_embeddings": emb})
    ssr = Wrap(models["ssr"], text=False).eval()
    case("ssr_f8", p("ssr.onnx"), ssr, {"x": torch.randn(b, 6, 8, 64, 64, generator=g), "t": t})
    case("ssr_f12", p("ssr.onnx"), ssr, {"x": torch.randn(1, 6, 12, 64, 64, generator=g), "t": t[:1]})
    if style_model is not None:
        # The StyleAdapter contract: interpolating ONNX initializers by name must
        # equal running torch with interpolated parameters.
        style = read_safetensors(p(f"style-{STYLE_NAME}.safetensors"))
        interpolate_onnx(p("stunet.onnx"), style, 0.5, os.path.join(work, "stunet_a05.onnx"))
        base, sty = models["stunet"].state_dict(), style_model.state_dict()
        mixed = ck_io.build_all()["stunet"]
        mixed.load_state_dict({k: 0.5 * base[k] + 0.5 * sty[k] for k in base})
        case("stunet_style_a05", os.path.join(work, "stunet_a05.onnx"), Wrap(mixed).eval(),
             {"x": xst, "t": t, "text_embeddings": emb})
    with open(os.path.join(fx, "index.json"), "w") as f:
        json.dump(cases, f)
    r = subprocess.run(["/usr/bin/env", "node", os.path.join(HERE, "parity.mjs"), fx], cwd=ROOT,
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"parity checker failed:\n{r.stdout}\n{r.stderr}")
    res = json.loads(r.stdout.strip().splitlines()[-1])
    bad = {k: v for k, v in res.items() if not (v <= TOL)}
    if bad:
        sys.exit(f"PARITY FAILURE (> {TOL}): {bad}")
    return res


def write_manifest(stage, ck, trained, styles, parity, stunet_weights):
    f32 = "float32"
    text_in = io_spec("text_embeddings", f32, ["batch", MAX_LEN, ck_io.TEXT_DIM])
    t_in = io_spec("t", f32, ["batch"])
    models = {
        "text_encoder": {
            "file": "text_encoder.onnx", "trained_steps": trained["text_encoder"],
            "inputs": [io_spec("input_ids", "int64", ["batch", MAX_LEN])],
            "outputs": [io_spec("text_embeddings", f32, ["batch", MAX_LEN, ck_io.TEXT_DIM])],
            "notes": "2-layer transformer, D=64, no attention mask (pad positions are ordinary tokens); "
                     "frozen after the t2i stage, shared by t2i and stunet",
        },
        "t2i": {
            "file": "t2i_unet.onnx", "trained_steps": trained["t2i"], "role": "text-to-image base (first frame)",
            "inputs": [io_spec("x", f32, ["batch", 3, 32, 32]), t_in, text_in],
            "outputs": [io_spec("prediction", f32, ["batch", 3, 32, 32])],
        },
        "stunet": {
            "file": "stunet.onnx", "trained_steps": trained["stunet"], "weights": stunet_weights,
            "role": "space-time U-Net, all 16 frames at once; t2v / i2v / inpaint / cinemagraph",
            "inputs": [io_spec("x", f32, ["batch", 7, 16, 32, 32]), t_in, text_in],
            "outputs": [io_spec("prediction", f32, ["batch", 3, 16, 32, 32])],
            "input_channels": {"0-2": "noisy video x_t", "3-5": "conditioning video (clean pixels * mask, 0 where unknown)",
                               "6": "mask"},
            "mask_convention": "1 = known/keep (conditioning pixel valid), 0 = generate",
            "tasks": {
                "t2v": "mask 0 everywhere, conditioning 0",
                "i2v": "mask 1 on frame 0 only, conditioning = the image on frame 0, zeros elsewhere",
                "inpaint": "mask 0 inside the region to generate (all frames), 1 elsewhere; conditioning = video * mask",
                "cinemagraph": "mask 0 inside the animated region (all frames), 1 outside; conditioning = the first "
                               "frame repeated over all frames, times mask",
            },
            "training_task_probabilities": dict(zip(TASKS, TASK_P)),
            "notes": "inflated from t2i: spatial layers per frame + temporal 1D convs (identity init), temporal "
                     "down/up-sampling 16->8->4 frames alongside 32->16->8 pixels, temporal attention at the "
                     "coarsest level, text cross-attention at 16x16 and 8x8",
        },
        "ssr": {
            "file": "ssr.onnx", "trained_steps": trained["ssr"], "role": "spatial super-resolution 32->64",
            "inputs": [io_spec("x", f32, ["batch", 6, "frames", 64, 64]), t_in],
            "outputs": [io_spec("prediction", f32, ["batch", 3, "frames", 64, 64])],
            "input_channels": {"0-2": "noisy hi-res video x_t", "3-5": "low-res video upsampled to 64x64"},
            "conditioning_upsample": "bilinear x2 per frame, align_corners=false, half-pixel centres "
                                     "(torch F.interpolate / ONNX Resize linear, half_pixel), no noise augmentation",
            "train_window_frames": 8, "suggested_window_stride": 4,
            "notes": "no temporal down-sampling and no attention: any frame count works; run over overlapping "
                     "8-frame windows and blend (MultiDiffusion). No text input.",
        },
    }
    for k, v in models.items():
        v["parameters"] = None
    counts = {k: sum(p.numel() for p in m.parameters()) for k, m in
              zip(["text_encoder", "t2i", "stunet", "ssr"], [ck_io.build_all()[n] for n in ("text", "t2i", "stunet", "ssr")])}
    for k, n in counts.items():
        models[k]["parameters"] = n
    held_rules = [{k: v for k, v in r.items() if v is not None} for r in data.HELD_OUT_RULES]
    files = []
    for f in sorted(os.listdir(stage)):
        if f == "manifest.json":
            continue
        fp = os.path.join(stage, f)
        files.append({"path": f, "bytes": os.path.getsize(fp), "sha256": sha256(fp)})
    manifest = {
        "name": PACK, "version": VERSION, "license": "Apache-2.0",
        "description": "Tiny Lumiere-style space-time video diffusion pack trained from scratch on synthetic "
                       "captioned moving shapes (CPU recipe: make -C training).",
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "training_state": {"stage": ck["stage"], "step": ck["step"],
                           "stages": {k: {"steps": v["steps"], "budget": v["budget"],
                                          "loss_ema": v["loss"]} for k, v in ck.get("stats", {}).items()}},
        "onnx_opset": OPSET,
        "frames": data.FRAMES, "fps": FPS,
        "resolution": {"base": [32, 32], "ssr": [64, 64]},
        "pixel_range": [-1, 1], "video_layout": "NCFHW (batch, channels RGB, frames, height, width)",
        "prediction_type": "v_prediction",
        "prediction_definition": "v = sqrt(ac_t)*eps - sqrt(1-ac_t)*x0; x0 = sqrt(ac_t)*x_t - sqrt(1-ac_t)*v",
        "schedule": {**schedule.manifest_entry(), "alphas_cumprod": [float(x) for x in schedule.AC]},
        "sampling": {
            "samplers": list(SAMPLERS), "reference": "training/sample.py",
            "timesteps": "round(linspace(T-1, 0, N)), integer indices, descending; final update goes to "
                         "alphas_cumprod = 1",
            "cfg": "v = v_uncond + scale*(v_cond - v_uncond); v_uncond uses the empty prompt \"\" (all [PAD])",
            "default_steps": 25, "default_cfg_scale": 3.0,
        },
        "tokenizer": {"file": "tokenizer.json", "config_file": "tokenizer_config.json", "type": "WordLevel", "max_length": MAX_LEN, "pad_id": PAD_ID,
                      "unk_id": UNK_ID, "vocab_size": len(VOCAB), "normalizer": "Lowercase",
                      "pre_tokenizer": "Whitespace", "padding": "right, fixed to max_length",
                      "special_tokens_added": "none (no BOS/EOS)"},
        "models": models,
        "styles": styles,
        "style_format": {
            "container": "safetensors: u64 little-endian header length N, N bytes of JSON header "
                         "{name: {dtype: 'F32', shape, data_offsets: [begin, end]}, __metadata__: {...}}, "
                         "then the raw little-endian float32 data; offsets are relative to the end of the header",
            "keys": "ONNX initializer names of the target model (stunet.onnx graph.initializer[].name); every "
                    "tensor has the same shape as that initializer",
            "apply": "for each key: W = (1 - alpha) * W_base + alpha * W_style; initializers not listed are "
                     "unchanged (temporal layers, input conv channels are included as a whole tensor)",
            "semantics": "style = STUNet spatial layers fine-tuned on the style (stored during training as a delta "
                         "and exported as current base + delta)",
        },
        "held_out": {
            "rule": "a single-object (shape, colour, motion, background) combination matching any rule; two-object "
                    "clips were dropped from training if either object matched",
            "rules": held_rules,
            "rules_text": ["every " + data.rule_text(r) for r in data.HELD_OUT_RULES],
            "combinations": [list(c) for c in data.held_out_combinations()],
            "fraction_of_single_object_combinations": len(data.held_out_combinations()) / len(data.all_combinations()),
        },
        "attributes": {"shape": data.SHAPES, "colour": list(data.COLOURS), "motion": data.MOTIONS,
                       "background": list(data.BACKGROUNDS)},
        "parity": {"checked_with": "onnxruntime-node", "tolerance": TOL, "max_abs_diff": parity},
        "files_note": "every file export.py writes except manifest.json itself (a hand-written README.md model card, if present, is not listed)",
        "files": files,
    }
    with open(os.path.join(stage, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
