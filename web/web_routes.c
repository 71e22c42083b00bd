/* The route table: every endpoint of the server, with what it needs. The
 * server checks the role, the CSRF token and the Origin from this table
 * before any handler runs (web_server.c), and checks that an audited
 * route's success appended its audit row. docs/api.md documents each. */
#include "web/web_internal.h"

#define CSRF WEB_F_CSRF
#define AUDITED WEB_F_AUDITED
#define BODY WEB_F_BODY
#define DB WEB_F_DB

const web_route web_routes[] = {
    /* health and metrics: no session; /metrics checks web.metrics_token */
    {"GET", "/healthz", web_h_healthz, WEB_NEED_NONE, 0},
    {"GET", "/readyz", web_h_readyz, WEB_NEED_NONE, 0}, /* takes its own connection */
    {"GET", "/metrics", web_h_metrics, WEB_NEED_NONE, 0},

    /* the console (web_static.c): its shell for each page path, its assets */
    {"GET", "/", web_h_console_shell, WEB_NEED_NONE, 0},
    {"GET", "/signin", web_h_console_shell, WEB_NEED_NONE, 0},
    {"GET", "/queue", web_h_console_shell, WEB_NEED_NONE, 0},
    {"GET", "/sessions", web_h_console_shell, WEB_NEED_NONE, 0},
    {"GET", "/incidents/{id}", web_h_console_shell, WEB_NEED_NONE, 0},
    {"GET", "/assets/{file}", web_h_console_asset, WEB_NEED_NONE, 0},
    {"GET", "/overview", web_h_console_shell, WEB_NEED_NONE, 0},
    {"GET", "/audit", web_h_console_shell, WEB_NEED_NONE, 0},
    /* the approvals, keys and models pages */
    {"GET", "/approvals", web_h_console_shell, WEB_NEED_NONE, 0},
    {"GET", "/keys", web_h_console_shell, WEB_NEED_NONE, 0},
    {"GET", "/keys/{key}", web_h_console_shell, WEB_NEED_NONE, 0},
    {"GET", "/models", web_h_console_shell, WEB_NEED_NONE, 0},
    {"GET", "/models/{model}/versions/{version}", web_h_console_shell, WEB_NEED_NONE, 0},

    /* sign-in and one's own sessions */
    {"POST", "/api/v1/session", web_h_session_create, WEB_NEED_NONE, BODY | DB | AUDITED},
    {"GET", "/api/v1/session", web_h_session_get, WEB_NEED_SIGNED_IN, DB},
    {"DELETE", "/api/v1/session", web_h_session_delete, WEB_NEED_SIGNED_IN, CSRF | DB | AUDITED},
    {"GET", "/api/v1/sessions", web_h_sessions_list, WEB_NEED_SIGNED_IN, DB},
    {"DELETE", "/api/v1/sessions/{id}", web_h_sessions_delete, WEB_NEED_SIGNED_IN,
     CSRF | DB | AUDITED},

    /* the queue and one incident (content masked: reveal is its own call) */
    {"GET", "/api/v1/incidents", web_h_incidents_list, WEB_NEED_READ, DB},
    {"GET", "/api/v1/incidents/{id}", web_h_incident_get, WEB_NEED_READ, DB},
    {"PATCH", "/api/v1/incidents/{id}", web_h_incident_change, WEB_NEED_TRIAGE,
     CSRF | BODY | DB | AUDITED},
    {"POST", "/api/v1/incidents/bulk", web_h_incidents_bulk, WEB_NEED_TRIAGE,
     CSRF | BODY | DB | AUDITED},
    {"POST", "/api/v1/incidents/{id}/take", web_h_incident_take, WEB_NEED_TRIAGE,
     CSRF | DB | AUDITED},
    {"POST", "/api/v1/incidents/{id}/comments", web_h_incident_comment, WEB_NEED_TRIAGE,
     CSRF | BODY | DB | AUDITED},
    /* content, shown only through this call with a reason; audited */
    {"POST", "/api/v1/incidents/{id}/reveal", web_h_incident_reveal, WEB_NEED_REVEAL,
     CSRF | BODY | DB | AUDITED},

    /* containment decisions, through the playbooks' approval path */
    {"POST", "/api/v1/actions/{id}/approve", web_h_action_approve, WEB_NEED_RESPOND,
     CSRF | BODY | WEB_F_BODY_OPTIONAL | DB | AUDITED}, /* {"reason","gate"} optional */
    {"POST", "/api/v1/actions/{id}/reject", web_h_action_reject, WEB_NEED_RESPOND,
     CSRF | BODY | DB | AUDITED},

    /* the console's own: charts, overview, the audit chain, saved views
     * (api_series.c, api_overview.c, api_audit.c, api_views.c) */
    {"GET", "/api/v1/series", web_h_series, WEB_NEED_READ, DB},
    {"GET", "/api/v1/overview", web_h_overview, WEB_NEED_READ, DB},
    {"GET", "/api/v1/audit", web_h_audit_list, WEB_NEED_FORENSIC, DB},
    {"POST", "/api/v1/audit/verify", web_h_audit_verify, WEB_NEED_FORENSIC, CSRF | DB | AUDITED},
    {"GET", "/api/v1/views", web_h_views_list, WEB_NEED_SIGNED_IN, DB},
    {"POST", "/api/v1/views", web_h_views_save, WEB_NEED_SIGNED_IN, CSRF | BODY | DB | AUDITED},
    {"DELETE", "/api/v1/views/{id}", web_h_views_delete, WEB_NEED_SIGNED_IN,
     CSRF | DB | AUDITED},
    /* the live stream of incident and action changes (web_stream.c) */
    {"GET", "/api/v1/stream", web_h_stream, WEB_NEED_READ, DB},
    /* the approval queue; a person's containment of a key or a model
     * version, each an action through the playbooks' effectors; keys and
     * models as the registry, incidents and traffic show them */
    {"GET", "/api/v1/actions", web_h_actions_list, WEB_NEED_READ, DB},
    {"GET", "/api/v1/keys", web_h_keys_list, WEB_NEED_READ, DB},
    {"GET", "/api/v1/keys/{key}", web_h_key_get, WEB_NEED_READ, DB},
    {"POST", "/api/v1/keys/{key}/revoke", web_h_key_revoke, WEB_NEED_RESPOND,
     CSRF | BODY | DB | AUDITED},
    {"POST", "/api/v1/keys/{key}/restore", web_h_key_restore, WEB_NEED_RESPOND,
     CSRF | BODY | DB | AUDITED},
    {"POST", "/api/v1/keys/{key}/throttle", web_h_key_throttle, WEB_NEED_RESPOND,
     CSRF | BODY | DB | AUDITED},
    {"POST", "/api/v1/keys/{key}/unthrottle", web_h_key_unthrottle, WEB_NEED_RESPOND,
     CSRF | BODY | DB | AUDITED},
    {"GET", "/api/v1/models", web_h_models_list, WEB_NEED_READ, DB},
    {"GET", "/api/v1/models/{model}/versions/{version}", web_h_model_version_get, WEB_NEED_READ,
     DB},
    {"POST", "/api/v1/models/{model}/versions/{version}/rollback", web_h_model_rollback,
     WEB_NEED_RESPOND, CSRF | BODY | DB | AUDITED},
    /* forensics: auditor and admin; every query and export is an audit row;
     * content masked unless revealed with a reason (api_forensics.c) */
    {"GET", "/api/v1/forensics/events", web_h_forensics_events, WEB_NEED_FORENSIC,
     DB | AUDITED},
    {"POST", "/api/v1/evidence", web_h_evidence_export, WEB_NEED_FORENSIC,
     CSRF | BODY | DB | AUDITED},

    /* serious incidents (EU AI Act Art. 73; api_serious.c): marking and
     * reports filed are the analyst's and up; the report export reads */
    {"POST", "/api/v1/incidents/{id}/serious", web_h_incident_serious, WEB_NEED_TRIAGE,
     CSRF | BODY | DB | AUDITED},
    {"POST", "/api/v1/incidents/{id}/serious/reports", web_h_incident_serious_report_filed,
     WEB_NEED_TRIAGE, CSRF | BODY | DB | AUDITED},
    {"GET", "/api/v1/incidents/{id}/report", web_h_incident_report, WEB_NEED_READ,
     DB | AUDITED},

    /* administration */
    {"GET", "/api/v1/users", web_h_users_list, WEB_NEED_ADMIN, DB},
    {"GET", "/api/v1/tokens", web_h_tokens_list, WEB_NEED_ADMIN, DB},
    {"DELETE", "/api/v1/tokens/{id}", web_h_token_revoke, WEB_NEED_ADMIN, CSRF | DB | AUDITED},
};

const size_t web_routes_count = sizeof web_routes / sizeof web_routes[0];
_Static_assert(sizeof web_routes / sizeof web_routes[0] <= WEB_MAX_ROUTES,
               "more routes than WEB_MAX_ROUTES (web_internal.h)");
