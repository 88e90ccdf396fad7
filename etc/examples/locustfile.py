"""The seed's four user behaviours against the demo target's items API
(tests/target: GET/POST /api/items, GET/PUT /api/items/ID), as a Locust
suite that perfwatchd runs with model = exec (perfwatchd.conf(5), "Locust
runs").  Copy it to /etc/perfwatch/locustfile.py, then for instance:

    locust -f /etc/perfwatch/locustfile.py --headless -u 50 -r 10 -t 10m \
        --host http://127.0.0.1:8080 --csv ${run_dir}/locust --exit-code-on-error 0
"""
import random

import locust.runners
from locust import HttpUser, between, task

# NB: Debian 12's python3-locust 2.12.1 has an empty version string, which
# its master takes for a pre-2.0 worker ("An old (pre 2.0) worker tried to
# connect"), so --master/--worker runs never start.  Both load this file
# before they talk, so giving them the same non-empty version fixes it.
if not locust.runners.__version__:
    locust.runners.__version__ = "2.12.1"


class ItemsUser(HttpUser):
    """Lists items most often, creates some, reads and updates the ones it made."""

    wait_time = between(1, 3)

    def on_start(self):
        self.ids = []

    @task(4)
    def list_items(self):
        self.client.get("/api/items", name="GET /api/items")

    @task(2)
    def create_item(self):
        with self.client.post("/api/items", json={"name": "locust", "qty": 1},
                              name="POST /api/items", catch_response=True) as r:
            if r.status_code != 201:
                r.failure(f"status {r.status_code}, expected 201")
                return
            try:
                self.ids.append(int(r.json()["id"]))
            except (ValueError, KeyError, TypeError):
                r.failure("no id in the answer")

    @task(3)
    def get_item(self):
        if self.ids:
            self.client.get(f"/api/items/{random.choice(self.ids)}", name="GET /api/items/ID")

    @task(1)
    def update_item(self):
        if self.ids:
            item = random.choice(self.ids)
            self.client.put(f"/api/items/{item}", json={"name": "locust", "qty": random.randint(1, 9)},
                            name="PUT /api/items/ID")
