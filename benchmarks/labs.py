"""What the benchmark measures in each lab: the metric its target is about, the target, the
reference model, and the notebook's own expression for its metric after every epoch.

A lab's entry names things of its solution notebook (the metrics it reports with
``labkit.report``, the variables and functions its curve expressions use):
``tests/test_bench.py`` checks them against the notebook, so a rename fails there in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Lab:
    """How to read one lab's result from the metrics its notebook reports."""

    metric: str  # the metric the target is about
    target: float
    higher_is_better: bool = True
    seconds: str | None = "train_seconds"  # the metric holding our training time (None: none)
    reference: str | None = None  # a reference trainer of benchmarks/references.py, or "notebook"
    reference_metric: str | None = None  # for "notebook": the metric holding the reference's value
    reference_seconds: str | None = None
    reference_name: str | None = None  # for "notebook": what the notebook's reference is
    relative_target: float | None = None  # the target is this times the reference's value
    also: dict[str, float] = field(default_factory=dict)  # other metrics that must be >= these
    max_seconds: float | None = None  # the most training time the target allows (time scale 1)
    # (model variable, expression of the metric) in the notebook's namespace: evaluated on the
    # model's weights after every epoch, for our curve (and for the notebook's own reference)
    curve: tuple[str, str] | None = None
    reference_curve: tuple[str, str] | None = None

    def reported_metrics(self) -> list[str]:
        """The names this entry reads from the metrics the notebook reports."""
        names = [self.metric, self.seconds, self.reference_metric, self.reference_seconds]
        return [name for name in [*names, *self.also] if name]


LABS: dict[str, Lab] = {
    "01_tensorflow_operations": Lab(
        "dense_forward_max_error", 1e-5, higher_is_better=False, seconds=None
    ),
    "02_logistic_regression": Lab("test_accuracy", 0.845),
    "03_multilayer_perceptron": Lab(
        "test_accuracy",
        0.895,
        reference="tutorial_mlp",
        curve=(
            "model",
            "np.mean(np.argmax(model.predict(x_test, batch_size=1024, verbose=0), "
            "axis=1) == y_test)",
        ),
    ),
    "04_convolutional_networks": Lab(
        "test_accuracy",
        0.925,
        reference="keras_io_convnet",
        max_seconds=180,
        curve=("model", "model.evaluate(test_ds, verbose=0)[1]"),
    ),
    "05_autoencoders": Lab(
        "conv_mse",
        0.0,
        higher_is_better=False,
        seconds="conv_seconds",
        reference="notebook",
        reference_metric="dense_mse",
        reference_seconds="dense_seconds",
        reference_name="dense autoencoder, 64-unit code, 10 epochs",
        relative_target=0.8,  # the conv autoencoder's MSE <= 0.8x the dense one's
        curve=("conv_ae", "test_mse(conv_ae, x_test)"),
        reference_curve=("dense_ae", "test_mse(dense_ae, x_test)"),
    ),
    "06_rnn_slot_filling": Lab(
        "slot_f1",
        0.955,
        reference="lstm_tagger",
        also={"intent_accuracy": 0.97},
        max_seconds=300,
        curve=(
            "joint",
            "f1_score(true_tags, iob_tags(predict(joint, test.queries, decode=viterbi)[0]))",
        ),
    ),
    "07_attention_transformers": Lab(
        "slot_f1",
        0.945,
        seconds="transformer_seconds",
        reference="notebook",
        reference_metric="bilstm_slot_f1",
        reference_seconds="bilstm_seconds",
        reference_name="lab 06's joint BiLSTM, same batches and time budget",
        also={"intent_accuracy": 0.96},
        max_seconds=300,
        curve=(
            "transformer",
            "f1_score(true_tags, iob_tags(predict(transformer, test.queries, decode=viterbi)[0]))",
        ),
        reference_curve=(
            "bilstm",
            "f1_score(true_tags, iob_tags(predict(bilstm, test.queries, decode=viterbi)[0]))",
        ),
    ),
    "08_gans": Lab(
        "squared_frechet",
        0.0,
        higher_is_better=False,
        reference="notebook",
        reference_metric="untrained_squared_frechet",
        reference_name="untrained generator (same judge, same sample size)",
        relative_target=0.1,  # the squared Frechet distance <= 0.1x the untrained generator's
        also={"class_consistency": 0.85},
        max_seconds=300,
        curve=("gan", "scores(gan.generator)['squared_frechet']"),
    ),
    "09_distributed_training": Lab(
        "test_accuracy",
        0.0,
        reference="notebook",
        reference_metric="one_device_accuracy",
        reference_seconds="one_device_seconds",
        reference_name="one replica, same weights, batches and epochs",
        relative_target=0.995,  # within about 0.5 points of the one-replica run (at ~90 %)
        also={"two_workers_clean": 1.0},
        max_seconds=120,  # the 4-replica fit: about 25 s here
    ),
    "10_language_models": Lab(
        "gru_bpc",
        0.0,
        higher_is_better=False,
        reference="notebook",
        reference_metric="ngram_bpc",
        reference_name="the best smoothed character n-gram on validation, same run",
        # the GRU's bits per character <= 0.9x the n-gram's (peak learning rate 1.2e-2 and
        # dropout 0.1: 0.80 bits per character after 10 or 16 epochs, 0.88x, on this machine)
        relative_target=0.9,
        also={"city_neighbour_share": 0.6, "new_question_share": 0.8, "known_word_share": 0.95},
        max_seconds=200,
        curve=("gru", "bits_per_char(gru, test_ids)"),
    ),
}
