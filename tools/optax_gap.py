import importlib, inspect, sys
import optax, optjax
SUBS = ["", "contrib", "transforms", "losses", "schedules", "tree", "tree_utils", "projections", "second_order", "perturbations", "assignment", "microbatching"]
tot=0; have=0
for s in SUBS:
    om = importlib.import_module("optax" + ("." + s if s else ""))
    names = [n for n in dir(om) if not n.startswith("_")]
    names = [n for n in names if not inspect.ismodule(getattr(om, n))] if s else [n for n in names]
    try:
        jm = importlib.import_module("optjax" + ("." + s if s else ""))
    except Exception as e:
        jm = None
    missing = [n for n in names if jm is None or not hasattr(jm, n)]
    tot += len(names); have += len(names) - len(missing)
    print(f"== {s or 'top'}: {len(names)} names, missing {len(missing)}")
    print("   ", " ".join(missing))
print(have, tot)
