-- custos schema 4: what the analytics keep beyond incidents.
-- Alerts that open no incident: a weak signal alone (a prompt matching only
-- a weak signature rule, refused or not) is recorded as an alert for the
-- analyst's context but is no incident (docs/analytics.md, "probing").
-- Those rows have no incident_id; (event_id, type) identifies them, so a
-- batch replayed after a restart stores them once.
ALTER TABLE alerts ALTER COLUMN incident_id DROP NOT NULL;
CREATE UNIQUE INDEX alerts_unattached ON alerts (event_id, type) WHERE incident_id IS NULL;
