from shared.celery_config import celery_config
from shared.names import ROUTES, Queue, TaskName
from shared.settings import load_settings


def test_reliability_settings(account_env):
    config = celery_config(load_settings())

    assert config["task_acks_late"] and config["task_reject_on_worker_lost"]
    assert config["worker_prefetch_multiplier"] == 1
    vt = config["broker_transport_options"]["visibility_timeout"]
    assert vt == config["visibility_timeout"] == config["result_backend_transport_options"]["visibility_timeout"]
    assert {q.name for q in config["task_queues"]} == {q.value for q in Queue}
    assert set(config["task_routes"]) == {str(name) for name in TaskName} == set(ROUTES)


def test_daily_catalog_schedule_follows_cron_and_timezone(account_env, monkeypatch):
    # Cron order is minute hour day-of-month month day-of-week; Celery's crontab() takes another order.
    monkeypatch.setenv("VTEXCT_CATALOG_SYNC_CRON", "30 4 1 * 2")
    monkeypatch.setenv("VTEXCT_CATALOG_SYNC_TIMEZONE", "America/Sao_Paulo")

    config = celery_config(load_settings())
    entry = config["beat_schedule"]["catalog-sync-daily"]

    assert entry["task"] == "catalog.sync_due_accounts"
    schedule = entry["schedule"]
    assert (schedule.minute, schedule.hour, schedule.day_of_month, schedule.day_of_week) == ({30}, {4}, {1}, {2})
    assert config["timezone"] == "America/Sao_Paulo"
