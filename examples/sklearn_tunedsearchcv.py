"""TunedSearchCV in place of GridSearchCV: tune a scikit-learn pipeline with a tunesmith study.

Run: python examples/sklearn_tunedsearchcv.py
"""

from __future__ import annotations

import os

from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import tunesmith
from tunesmith.distributions import CategoricalDistribution, FloatDistribution
from tunesmith.integrations.sklearn import TunedSearchCV

N_TRIALS = 5 if os.environ.get("TUNESMITH_EXAMPLE_SMALL") else 40

if __name__ == "__main__":
    tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=1000))])
    # Where GridSearchCV takes lists of values, TunedSearchCV takes distributions.
    search = TunedSearchCV(
        pipe,
        {
            "clf__C": FloatDistribution(1e-3, 1e3, log=True),
            "clf__class_weight": CategoricalDistribution([None, "balanced"]),
        },
        n_trials=N_TRIALS,
        cv=5,
        scoring={"acc": "accuracy", "auc": "roc_auc"},
        refit="auc",
        random_state=0,
    )
    search.fit(X_train, y_train)
    print(f"best CV AUC {search.best_score_:.4f} with {search.best_params_}")
    print(f"test AUC {search.score(X_test, y_test):.4f} over {search.n_trials_} trials")
    print("accuracy of the best trial:", search.cv_results_["mean_test_acc"][search.best_index_])
