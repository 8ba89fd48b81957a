"""Run by tests/test_distributed.py, as one process and under ``mpiexec -n 2``: fit, evaluate and
predict a small net with everything that could make ranks differ from one process (batch norm,
dropout, a random augmentation layer, unequal shards, a last batch of one sample), then write what
each rank ended with. Usage: python mpi_fit.py OUT_FOLDER
"""
import hashlib
import json
import os
import sys

import numpy as np

import faltung as ft
from faltung import callbacks, datasets, distributed, layers, models

distributed.init()
out = sys.argv[1]
rank = distributed.rank()
ft.set_seed(3)
(x, y), (x_test, y_test) = datasets.shapes.load_data(n_train=211, n_test=61)
x, x_test = x[..., None], x_test[..., None]
model = models.Sequential([
    layers.Input((28, 28, 1)), layers.Rescaling(1 / 255), layers.RandomTranslation(0.1, 0.1),
    layers.Conv2D(8, 3, use_bias=False), layers.BatchNormalization(), layers.ReLU(), layers.MaxPool2D(2),
    layers.Conv2D(8, 3, use_bias=False), layers.BatchNormalization(), layers.ReLU(),
    layers.GlobalAveragePooling2D(), layers.Dropout(0.3),
    layers.Dense(len(datasets.shapes.CLASS_NAMES), activation="softmax"),
])
model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
epochs_seen = []
# 189 training samples in batches of 47: the last batch has one sample, so one of two ranks has none
history = model.fit(x, y, batch_size=47, epochs=2, validation_split=0.1, verbose=0,
                    callbacks=[callbacks.CSVLogger(os.path.join(out, f"log-{rank}.csv")),
                               callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: epochs_seen.append(epoch)),
                               callbacks.LearningRateScheduler(lambda epoch, lr: lr)])  # adds the rate to the logs
evaluated = model.evaluate(x_test, y_test, batch_size=16, verbose=0)
predicted = model.predict(x_test, batch_size=20, verbose=0)  # 61 = 3 x 20 + 1
model.save(os.path.join(out, f"model-{rank}.faltung"))

# A callback on rank 0 that stops training and one that sets the learning rate: every rank must follow.
stop = callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: setattr(model, "stop_training", batch == 2))
steps_before = model.optimizer.iterations
model.fit(x, y, batch_size=47, epochs=1, verbose=0,
          callbacks=[stop, callbacks.LearningRateScheduler(lambda epoch, lr: 0.0005)])

weights = model.get_weights()
digest = hashlib.sha256(b"".join(w.tobytes() for w in weights)).hexdigest()
with open(os.path.join(out, f"rank-{rank}.json"), "w") as f:
    json.dump({"size": distributed.size(), "history": history.history, "evaluate": evaluated,
               "epochs_seen": epochs_seen, "digest": digest, "steps_after_stop": model.optimizer.iterations - steps_before,
               "learning_rate": model.optimizer.learning_rate}, f)
np.savez(os.path.join(out, f"rank-{rank}.npz"), predicted, *weights)
