-- custos schema 6: the incident as the incidents module owns it.
-- The analysts' side of an incident: its disposition (what it turned out
-- to be), who works it, who closed it and why; its tenant (from the
-- interactions that raised it, when the detector knows it); who last set
-- its status when that was not the detector (status_by NULL: the
-- detector's, which then follows open/closed by itself). incident_updates
-- (schema 3) now records analysts' changes beside the playbooks', with the
-- actor; incident_comments holds what analysts wrote. The list the console
-- and the CLI page through is ordered (detected_at DESC, incident_id DESC)
-- and read by keyset, never by OFFSET.

ALTER TABLE incidents
    ADD COLUMN tenant       text,
    ADD COLUMN disposition  text CHECK (disposition IN ('true_positive', 'false_positive',
                                                        'benign', 'duplicate')),
    ADD COLUMN assignee     text,
    ADD COLUMN status_by    text,
    ADD COLUMN closed_at    timestamptz,
    ADD COLUMN closed_by    text,
    ADD COLUMN close_reason text;

-- Statuses a playbook set before this schema were set by someone other than
-- the detector.
UPDATE incidents SET status_by = 'playbook' WHERE status NOT IN ('open', 'closed');

DROP INDEX incidents_detected;
CREATE INDEX incidents_page ON incidents (detected_at DESC, incident_id DESC);
CREATE INDEX incidents_status_page ON incidents (status, detected_at DESC, incident_id DESC);
CREATE INDEX incidents_type_page ON incidents (type, detected_at DESC, incident_id DESC);
CREATE INDEX incidents_tenant_page ON incidents (tenant, detected_at DESC, incident_id DESC)
    WHERE tenant IS NOT NULL;
CREATE INDEX incidents_assignee ON incidents (assignee) WHERE assignee IS NOT NULL;

ALTER TABLE incident_updates
    ADD COLUMN actor       text,
    ADD COLUMN disposition text,
    ADD COLUMN assignee    text;

CREATE TABLE incident_comments (
    id          bigserial   PRIMARY KEY,
    incident_id text        NOT NULL REFERENCES incidents (incident_id) ON DELETE CASCADE,
    actor       text        NOT NULL,
    body        text        NOT NULL CHECK (length(body) BETWEEN 1 AND 10000),
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incident_comments_incident ON incident_comments (incident_id, at);
