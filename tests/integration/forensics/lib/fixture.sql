-- Forensics fixture: one key-scoped incident (inc-fx-1, key ak_fx_1) with
-- the key's 200 events over its span (prompts with quotes, backslashes,
-- newlines, tabs and non-ASCII text, so the NDJSON must escape them), 40
-- events of another key in the same minutes (not evidence), two alerts and
-- one action. Times are fixed: 2026-11-20, a UTC day of its own partition.
SELECT custos_ensure_partitions('2026-11-18', 5);
INSERT INTO interactions (ts, event_id, api_key_id, model, model_version, tenant, user_id,
                          session_id, client_ip, prompt, response, prompt_tokens,
                          completion_tokens, latency_ms, status, scores, attrs)
SELECT timestamptz '2026-11-20 10:00:00+00' + g * interval '1.5 s',
       'ev-' || lpad(g::text, 4, '0'), 'ak_fx_1', 'acme-chat', '2026-10-01', 'umbrella',
       'u-' || (g % 7), 's-' || (g % 3), ('203.0.113.' || (g % 250 + 1))::inet,
       'prompt ' || g || E' "quoted" \\back\\slash\nnew line\ttab é 日本',
       'answer ' || g, 10 + g, 100 + g, 12.5 + g, 200, '{"toxicity": 0.01}',
       jsonb_build_object('route', '/v1/chat/completions', 'n', g)
FROM generate_series(1, 200) g;
INSERT INTO interactions (ts, event_id, api_key_id, model, model_version, tenant, prompt, response)
SELECT timestamptz '2026-11-20 10:00:00+00' + g * interval '7 s', 'other-' || g, 'ak_fx_2',
       'acme-chat', '2026-10-01', 'umbrella', 'other prompt ' || g, 'other answer'
FROM generate_series(1, 40) g;
INSERT INTO incidents (incident_id, type, severity, api_key_id, model, model_version,
                       first_seen, detected_at, last_seen, alerts, atlas, owasp, summary, doc,
                       tenant)
VALUES ('inc-fx-1', 'extraction', 'high', 'ak_fx_1', 'acme-chat', '2026-10-01',
        '2026-11-20 10:00:01.5+00', '2026-11-20 10:03:00+00', '2026-11-20 10:05:00+00', 2,
        '{AML.T0024.002}', '{LLM10}', 'steady diverse prompts from ak_fx_1',
        '{"incident_id": "inc-fx-1", "type": "extraction"}', 'umbrella');
INSERT INTO alerts (incident_id, type, severity, ts, event_id, api_key_id, summary, evidence)
VALUES ('inc-fx-1', 'extraction', 'medium', '2026-11-20 10:02:00+00', 'ev-0080', 'ak_fx_1',
        'novelty high', '{"novel": 0.9}'),
       ('inc-fx-1', 'extraction', 'high', '2026-11-20 10:03:00+00', 'ev-0120', 'ak_fx_1',
        'pacing steady', '{"cv": 0.05}');
INSERT INTO incident_events (incident_id, event_id, ts, api_key_id)
VALUES ('inc-fx-1', 'ev-0080', '2026-11-20 10:02:00+00', 'ak_fx_1'),
       ('inc-fx-1', 'ev-0120', '2026-11-20 10:03:00+00', 'ak_fx_1');
INSERT INTO actions (incident_id, playbook, kind, subject, params, params_key, state, actor)
VALUES ('inc-fx-1', 'extraction.lua', 'revoke_key', 'ak_fx_1', '{}', 'k1', 'done',
        'playbook:extraction');
