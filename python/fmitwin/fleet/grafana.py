"""A Grafana dashboard for a fleet, over the service's Prometheus ``/metrics``.

``grafana_dashboard`` returns the dashboard model that Grafana imports (Dashboards ->
Import, or a provisioning file): a Prometheus data-source input, ``site`` / ``asset_type`` /
``twin`` variables from the metrics' labels, and panels for lifecycle, health, remaining life
with its interval, probability of failure, readings and rejections, NIS and latency.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["PANELS", "dashboard_json", "grafana_dashboard"]

_DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
_SELECT = 'site=~"$site", asset_type=~"$asset_type", twin=~"$twin"'

# (title, panel type, unit, [(PromQL, legend)]): every series the service exports.
PANELS: tuple[tuple[str, str, str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Twins running",
        "stat",
        "none",
        ((f'sum(fmitwin_twin_lifecycle{{{_SELECT}, state=~"running|degraded"}})', "running"),),
    ),
    (
        "Twins degraded",
        "stat",
        "none",
        ((f'sum(fmitwin_twin_lifecycle{{{_SELECT}, state="degraded"}})', "degraded"),),
    ),
    (
        "Lifecycle",
        "table",
        "none",
        ((f"fmitwin_twin_lifecycle{{{_SELECT}}} == 1", "{{twin}} {{state}}"),),
    ),
    (
        "Health",
        "table",
        "none",
        ((f"fmitwin_twin_health{{{_SELECT}}} == 1", "{{twin}} {{health}}"),),
    ),
    (
        "Remaining useful life (median, 90 % interval)",
        "timeseries",
        "none",
        (
            (f"fmitwin_twin_rul{{{_SELECT}}}", "{{twin}} median"),
            (f"fmitwin_twin_rul_low{{{_SELECT}}}", "{{twin}} low"),
            (f"fmitwin_twin_rul_high{{{_SELECT}}}", "{{twin}} high"),
        ),
    ),
    (
        "Probability of failure within the horizon",
        "bargauge",
        "percentunit",
        ((f"fmitwin_twin_failure_probability{{{_SELECT}}}", "{{twin}}"),),
    ),
    (
        "Readings per second",
        "timeseries",
        "reqps",
        ((f"rate(fmitwin_sensor_readings{{{_SELECT}}}[1m])", "{{twin}} {{sensor}}"),),
    ),
    (
        "Rejected readings per second, by kind",
        "timeseries",
        "reqps",
        (
            (
                f"rate(fmitwin_sensor_rejections{{{_SELECT}}}[1m])",
                "{{twin}} {{sensor}} {{kind}}",
            ),
        ),
    ),
    (
        "NIS",
        "timeseries",
        "none",
        ((f"fmitwin_sensor_nis{{{_SELECT}}}", "{{twin}} {{sensor}}"),),
    ),
    (
        "Source-to-estimate latency",
        "timeseries",
        "s",
        ((f"fmitwin_twin_latency_seconds{{{_SELECT}}}", "{{twin}}"),),
    ),
)


def _variable(name: str, label: str, query: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": _DATASOURCE,
        "query": {"query": query, "refId": f"{name}-values"},
        "definition": query,
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"text": "All", "value": "$__all"},
        "sort": 1,
    }


def grafana_dashboard(title: str, *, refresh: str = "10s") -> dict[str, Any]:
    """The dashboard model of a fleet named ``title``, ready for Grafana's import."""
    panels = []
    for index, (name, kind, unit, queries) in enumerate(PANELS):
        small = kind == "stat"
        width, height = (6, 4) if small else (12, 8)
        x = (index * 6) % 24 if small else (0 if (index - 2) % 2 == 0 else 12)
        y = 0 if small else 4 + 8 * ((index - 2) // 2)
        panels.append(
            {
                "id": index + 1,
                "title": name,
                "type": kind,
                "datasource": _DATASOURCE,
                "gridPos": {"x": x, "y": y, "w": width, "h": height},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "options": {},
                "targets": [
                    {
                        "refId": chr(ord("A") + n),
                        "datasource": _DATASOURCE,
                        "expr": expr,
                        "legendFormat": legend,
                        "instant": kind in ("table", "stat", "bargauge"),
                    }
                    for n, (expr, legend) in enumerate(queries)
                ],
            }
        )
    return {
        "__inputs": [
            {
                "name": "DS_PROMETHEUS",
                "label": "Prometheus",
                "description": "the Prometheus that scrapes the fleet service's /metrics",
                "type": "datasource",
                "pluginId": "prometheus",
                "pluginName": "Prometheus",
            }
        ],
        "__requires": [
            {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"}
        ],
        "title": f"{title}: fleet",
        "uid": None,
        "id": None,
        "tags": ["fmitwin", "fleet"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": refresh,
        "time": {"from": "now-1h", "to": "now"},
        "templating": {
            "list": [
                _variable("site", "site", "label_values(fmitwin_twin_lifecycle, site)"),
                _variable(
                    "asset_type",
                    "type",
                    'label_values(fmitwin_twin_lifecycle{site=~"$site"}, asset_type)',
                ),
                _variable(
                    "twin",
                    "twin",
                    'label_values(fmitwin_twin_lifecycle{site=~"$site", '
                    'asset_type=~"$asset_type"}, twin)',
                ),
            ]
        },
        "annotations": {"list": []},
        "panels": panels,
    }


def dashboard_json(title: str) -> str:
    """``grafana_dashboard`` as the JSON text Grafana imports."""
    return json.dumps(grafana_dashboard(title), indent=2) + "\n"
