from rollout.manifests.files import write

for path in write():
    print(f"wrote {path}")
