"""`GET /metrics` of a service API on each backend profile, read with Prometheus's own parser."""
from __future__ import annotations

from typing import Any, Callable

from prometheus_client.parser import text_string_to_metric_families

from services.contacts.app import create_app
from services.contacts.projections import ContactDirectory
from tests.integration.conftest import InProcessPlatform


def scrape(platform: InProcessPlatform) -> dict[str, list[Any]]:
    response = platform.client.get("/metrics")  # no token: scraped like /healthz
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {family.name: family.samples for family in text_string_to_metric_families(response.get_data(as_text=True))}


def total(samples: list[Any], **labels: str) -> float:
    return sum(s.value for s in samples if all(s.labels.get(k) == v for k, v in labels.items()))


def test_metrics_show_the_outbox_backlog_and_a_lag_that_grows_with_unconsumed_events_and_drops_to_zero(
        in_process: Callable[..., InProcessPlatform], token: Callable) -> None:
    platform = in_process(create_app, "contacts", [ContactDirectory])
    runtime = platform.client.application.extensions["careerloop"]
    topic = runtime.settings.get("BUS_NAMESPACE") + "careerloop.contacts.contact.v1"
    try:
        # given a quiet platform: every backend up, generation 0, nothing to publish or apply
        metrics = scrape(platform)
        assert {s.labels["backend"]: s.value for s in metrics["careerloop_up"]} == {
            "event_store": 1, "read_store": 1, "bus": 1}
        assert [(s.labels, s.value) for s in metrics["careerloop_projection_generation"]] == [
            ({"projection": "contact-directory"}, 0)]
        assert total(metrics["careerloop_outbox_unpublished_commits"]) == 0
        assert total(metrics["careerloop_projection_lag"]) == 0
        assert {s.labels["partition"] for s in metrics["careerloop_projection_lag"]} == {"0", "1", "2"}

        # when three contacts are added, then the outbox holds them until the relay publishes
        for name in ("Ada", "Grace", "Alan"):
            assert platform.client.post("/contacts", json={"name": name},
                                        headers={"Authorization": token("student-1")}).status_code == 201
        assert total(scrape(platform)["careerloop_outbox_unpublished_commits"], service="contacts") == 3

        # when they are published but not yet applied, then the lag counts them
        while platform.relays[0].publish_pending():
            pass
        metrics = scrape(platform)
        assert total(metrics["careerloop_outbox_unpublished_commits"]) == 0
        assert total(metrics["careerloop_projection_lag"], projection="contact-directory", topic=topic) == 3
        assert total(metrics["careerloop_topic_end_offset"], topic=topic) == 3

        # when the projection catches up, then the lag is 0 and the positions say where it is
        platform.sync()
        metrics = scrape(platform)
        assert total(metrics["careerloop_projection_lag"]) == 0
        assert total(metrics["careerloop_projection_committed_offset"], generation="0", topic=topic) == 3
        assert total(metrics["careerloop_projection_checkpoint_offset"], topic=topic) == 3
        ages = [s.value for s in metrics["careerloop_projection_checkpoint_age_seconds"]]
        assert ages and all(0 <= age < 600 for age in ages)
    finally:
        runtime.close()
