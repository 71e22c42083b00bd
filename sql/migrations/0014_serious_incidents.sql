-- Schema 14: serious incidents (EU AI Act Art. 73) and the preservation
-- gate of 73(6) (docs/incidents.md, "Serious incidents").
--
-- serious_incidents: an incident marked serious, with the category that
-- sets its reporting deadline (73(2): 15 days from awareness; 73(3),
-- widespread infringement or critical infrastructure: 2 days; 73(4), a
-- death: 10 days), derived by custos (incidents/inc_serious.c) and stored so
-- that the deadline check and the auditors read one value. notified_at and
-- escalated_at say when the "deadline near" notification and the "deadline
-- passed" escalation were raised: each once (set in the transaction that
-- raised it). A re-marking that moves the deadline clears them.
CREATE TABLE serious_incidents (
    incident_id  text        PRIMARY KEY REFERENCES incidents (incident_id),
    category     text        NOT NULL CHECK (category IN ('general', 'widespread_infringement',
                                                          'critical_infrastructure', 'death')),
    aware_at     timestamptz NOT NULL,
    deadline_at  timestamptz NOT NULL,
    marked_by    text        NOT NULL,
    marked_at    timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    notified_at  timestamptz,
    escalated_at timestamptz,
    CHECK (deadline_at > aware_at)
);
CREATE INDEX serious_incidents_due ON serious_incidents (deadline_at) WHERE escalated_at IS NULL;

-- Reports filed with the authority: an initial report first (73(5)), the
-- complete one later, each with who filed it, when, and the authority's
-- reference. Append-only, like the audit chain.
CREATE TABLE serious_reports (
    id          bigserial   PRIMARY KEY,
    incident_id text        NOT NULL REFERENCES serious_incidents (incident_id),
    kind        text        NOT NULL CHECK (kind IN ('initial', 'complete')),
    filed_by    text        NOT NULL,
    filed_at    timestamptz NOT NULL,
    reference   text        NOT NULL CHECK (length(reference) BETWEEN 1 AND 1000),
    recorded_by text        NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX serious_reports_incident ON serious_reports (incident_id, id);
CREATE TRIGGER serious_reports_append_only BEFORE UPDATE OR DELETE ON serious_reports
    FOR EACH ROW EXECUTE FUNCTION custos_append_only();
CREATE TRIGGER serious_reports_no_truncate BEFORE TRUNCATE ON serious_reports
    FOR EACH STATEMENT EXECUTE FUNCTION custos_append_only();

-- The preservation gate's answer on an approval of an action that alters
-- the AI system for a serious incident: the approver recorded that the
-- authority was informed, or overrode the gate (decision_reason holds the
-- statement or the override's reason; approvals now keep their reason too).
ALTER TABLE actions ADD COLUMN approval_gate text
    CHECK (approval_gate IN ('authority_informed', 'override'));

CREATE VIEW auditor_serious_incidents AS SELECT * FROM serious_incidents;
CREATE VIEW auditor_serious_reports AS SELECT * FROM serious_reports;
GRANT SELECT ON auditor_serious_incidents, auditor_serious_reports TO custos_auditor;
