-- The containment test's additions to seed.sql: key-1's traffic over the
-- last hour (a burst in its last 20 minutes), the chat-large registry (v1
-- retired, v2 active, v3 staged), the PSI evidence of v2's drift incident
-- (inc-b04) and a rollback of v2 waiting for a responder.
INSERT INTO interactions (ts, event_id, api_key_id, model, model_version, tenant, prompt_tokens,
                          completion_tokens, refusal, status)
SELECT now() - (g % 60) * interval '1 minute' - (g % 7) * interval '1 second', 'ev-k1-' || g, 'key-1',
       'chat-large', 'v2', 'globex', 40 + g % 30, 300 + (g * 37) % 500, g % 11 = 0,
       CASE WHEN g % 29 = 0 THEN 503 ELSE 200 END
FROM generate_series(1, 420) g
WHERE g % 60 < 20 OR g % 3 = 0;
INSERT INTO model_deployments (model, version, active, deployed_at, retired_at) VALUES
    ('chat-large', 'v1', false, now() - interval '20 days', now() - interval '6 days'),
    ('chat-large', 'v2', true, now() - interval '6 days', NULL),
    ('chat-large', 'v3', false, now() - interval '1 day', NULL);
INSERT INTO model_deployment_history (model, from_version, to_version, at)
VALUES ('chat-large', 'v1', 'v2', now() - interval '6 days');
INSERT INTO alerts (incident_id, type, severity, ts, event_id, model, model_version, summary, evidence)
VALUES ('inc-b04', 'drift', 'medium', now() - interval '5 hours', 'ev-drift-b04', 'chat-large', 'v2',
        'Model chat-large version v2 drifted from its early traffic on latency_ms, completion_tokens',
        '{"psi":{"latency_ms":0.612,"completion_tokens":0.274,"prompt_tokens":0.041,"refusal":0.018},
          "windows_over_threshold":4,"window_events":212,"window_keys":31,"window_minutes":4}');
INSERT INTO actions (incident_id, playbook, kind, subject, params, params_key, state,
                     approval_required, expires_at, actor, created_at)
VALUES ('inc-b04', 'rollback-drift', 'rollback_model', 'chat-large',
        '{"model":"chat-large","from":"v2","to":"previous","reason":"drift on chat-large v2"}',
        'rb-v2', 'pending_approval', true, now() + interval '8 minutes', 'playbook:rollback-drift',
        now() - interval '2 hours');
