# requires: alpaca_eval scikit-learn pandas
"""Python reference for the `lc-alpacaeval/lc_table_given_difficulty` benchmark: upstream
alpaca_eval's own `get_length_controlled_winrate` (PyPI) on the same annotations, with the same
difficulty vector (results/lc-alpacaeval/instruction_difficulty.csv) and the same proxy
gamed-baseline rows. Upstream downloads `df_gamed.csv` from the Hugging Face hub; here its
`hf_hub_download` is redirected to a local file built from those ingredients (no network).
Prints JSON lines {"name", "seconds"} and, on stderr, the mean |LC(upstream code) - LC(ours)|."""
import glob, gzip, json, os, sys, tempfile, time
import numpy as np, pandas as pd
import alpaca_eval.metrics.glm_winrate as g

repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
data = os.environ.get("REPRO_DATA", os.path.join(repo, "datasets/.cache"))
root = os.path.join(data, "alpaca_eval")
d = pd.read_csv(os.path.join(repo, "results/lc-alpacaeval/instruction_difficulty.csv"))["instruction_difficulty"].to_numpy()
W = pd.read_csv(os.path.join(root, "src/alpaca_eval/metrics/weights/weighted_alpaca_eval_gpt4_turbo/length_controlled_v1/baseline_gpt4_1106_preview.csv"), index_col=0)

def load(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rt") as f:
        return json.load(f)

base = load(glob.glob(os.path.join(root, "results/gpt4_1106_preview/weighted_alpaca_eval_gpt4_turbo/annotations.json*"))[0])
len_base = np.array([len(r["output_1"]) for r in base], float)
rows = []
for gname in ["gpt4_1106_preview_verbose", "gpt4_1106_preview_concise"]:  # lc-alpacaeval.md §7 proxy rows
    outs = load(glob.glob(os.path.join(root, f"results/{gname}/model_outputs.json*"))[0])
    delta = len_base - np.array([len(o["output"]) for o in outs], float)
    sdl = delta / delta.std(ddof=1)
    w = W.loc[gname].to_numpy()
    y = 1 / (1 + np.exp(-(w[0] * np.tanh(sdl) + w[1] * d + w[2])))
    rows.append(pd.DataFrame({"model": gname, "index": np.arange(len(d)), "preference": y, "std_delta_len": sdl,
                              "instruction_difficulty": d, "not_gamed_baseline": False}))
tmp = tempfile.mkdtemp()
pd.concat(rows).to_csv(os.path.join(tmp, "df_gamed.csv"), index=False)
g.hf_hub_download = lambda **kw: os.path.join(tmp, kw["filename"])

models = {p.split("/results/")[1].split("/")[0]: load(p) for p in sorted(glob.glob(os.path.join(root, "results/*/weighted_alpaca_eval_gpt4_turbo/annotations.json*")))}

def table():
    out = {}
    for m, ann in models.items():
        df = pd.DataFrame(ann)
        df["index"] = np.arange(len(df))  # difficulty looked up by row position, as upstream
        out[m] = g.get_length_controlled_winrate(df, save_weights_dir=None, is_warn_extreme_changes=False)["length_controlled_winrate"]
    return out

want = os.environ.get("REPRO_BENCH_FILTER")
name = "lc-alpacaeval/lc_table_given_difficulty"
if not want or want in name:
    t0 = time.perf_counter(); res = table(); secs = time.perf_counter() - t0
    print(json.dumps({"name": name, "seconds": secs}))
    ours = pd.read_csv(os.path.join(repo, "results/lc-alpacaeval/lc_winrates.csv"), index_col=0)["LC (ours)"]
    diffs = [abs(res[m] - ours[m]) for m in res if m in ours.index]
    print(f"upstream code vs ours: mean |diff| {np.mean(diffs):.3f}, max {np.max(diffs):.3f} over {len(diffs)} models", file=sys.stderr)
