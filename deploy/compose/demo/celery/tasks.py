"""Demo tasks: a worker that succeeds, fails and retries, so every Celery panel has data."""
import json
import os
import random
import time

from celery import Celery

app = Celery("tasks", broker=os.environ["CELERY_BROKER_URL"])
app.conf.worker_send_task_events = True
app.conf.task_send_sent_event = True


def log(level, message, **fields):
    with open("/app/logs/app.log", "a") as f:
        f.write(json.dumps({"timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                            "level": level, "service": "worker", "message": message, **fields}) + "\n")


@app.task(bind=True, max_retries=2)
def work(self, n):
    time.sleep(random.random())
    if n % 10 == 0:
        log("ERROR", "task failed", task_id=self.request.id)
        raise ValueError("demo failure")
    if n % 7 == 0:
        raise self.retry(countdown=1)
    log("INFO", "task done", task_id=self.request.id)
    return n
