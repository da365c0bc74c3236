"""Online recommendations on MovieLens 100K through the runner: ratings replayed in time
order (each predicted, then learned once the clock passes its second: ratings made in the
same second are all served before any is learned), checkpoints, top-10 lists, and
recall@10 / NDCG@10 of a BPR model under the same time-ordered protocol.

MovieLens cannot be shipped (its licence): put ml-100k.inter.gz in $STREAMLEARN_DATA,
~/.streamlearn/data or ../shared/datasets.

python examples/recommend_movielens.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from streamlearn.datasets import movielens
from streamlearn.evaluate.topn import progressive_topn
from streamlearn.models import BPRMF, BiasedMF
from streamlearn.registry import LocalRegistry
from streamlearn.runner import Runner
from streamlearn.streams import FileEvents


def main() -> None:
    ratings = movielens.load()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ratings.csv"
        columns = ratings.columns | {"rating": ratings.ratings, "t": ratings.timestamps}
        pacsv.write_csv(pa.table(columns), path)
        registry = LocalRegistry(Path(tmp) / "registry")
        runner = Runner(
            BiasedMF(seed=1),
            FileEvents(path, "rating", categorical=["user", "item"], time_column="t"),
            registry=registry,
            checkpoint_every=50_000,
        )
        summary = runner.run()
        print(
            f"{summary.served:,} ratings replayed through the runner; progressive RMSE "
            f"{summary.metrics['rmse']:.4f}, MAE {summary.metrics['mae']:.4f}; "
            f"versions {', '.join(summary.versions)}"
        )
        _, version = registry.load(summary.versions[-1])
        model = runner.model
        user = int(ratings.columns["user"][-1])
        top = model.recommend(user, 10)
        print(f"top 10 for user {user} from {version.id}: {[item for item, _ in top]}")
    bpr = progressive_topn(
        BPRMF(n_factors=20, lr_latent=0.05, negatives=3, seed=1),
        ratings.columns,
        ratings.ratings,
        every=4,
    )
    print(
        f"BPR, every 4th relevant rating scored before it is learned: recall@10 "
        f"{bpr['recall@10']:.4f}, NDCG@10 {bpr['ndcg@10']:.4f} ({bpr['scored']:,} scored)"
    )


if __name__ == "__main__":
    main()
