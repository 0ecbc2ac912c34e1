"""The appendix's sections: a module of its own (no pandas), so that reading the commentary file is cheap."""

#: the report's sections in order: id -> heading (ids are stable: commentary is keyed on them)
REPORT_SECTIONS = {
    "summary": "Summary of key indicators",
    "trends": "Five-year trends",
    "population": "Children in care",
    "iro_service": "The IRO service and caseloads",
    "reviews": "Reviews and their timeliness",
    "participation": "Participation in reviews",
    "escalations": "Resolving concerns",
    "stability": "Placement stability",
    "quality": "Quality and voice",
    "equalities": "Equalities",
    "priorities": "Priorities for next year",
    "definitions": "Definitions",
    "data_quality": "Data-quality notes",
    "provenance": "How this was produced",
}
