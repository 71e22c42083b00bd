-- pages.sh's data beside seed.sql: inc-p1, an extraction from key-7 with
-- 90 minutes of traffic (a burst in the last 30), refusals, and two
-- alerts whose evidence holds the novelty and the key's baseline (and two
-- coalesced rows standing for five more); inc-p2,
-- a drift of chat-large@v3 with three alerts' PSI per feature; incident
-- updates for the times to acknowledge and to resolve.
INSERT INTO interactions (ts, event_id, api_key_id, model, model_version, tenant, prompt, response,
                          prompt_tokens, completion_tokens, refusal)
SELECT now() - interval '100 minutes' + m * interval '1 minute' + k * interval '2 seconds',
       'ev-p1-' || m || '-' || k, 'key-7', 'chat-large', 'v2', 'acme', 'p', 'r', 200, 50 + m,
       m >= 60 AND k % 3 = 0
FROM generate_series(0, 89) m, generate_series(0, 19) k
WHERE k < CASE WHEN m >= 60 THEN 20 ELSE 2 END;
INSERT INTO incidents (incident_id, type, severity, status, api_key_id, model, model_version,
                       first_seen, detected_at, last_seen, alerts, atlas, owasp, summary, doc, tenant)
VALUES ('inc-p1', 'extraction', 'high', 'investigating', 'key-7', NULL, NULL, now() - interval '40 minutes',
        now() - interval '35 minutes', now() - interval '10 minutes', 7,
        '{AML.T0024.002,AML.T0005.001}', '{LLM10:2025}',
        'systematic harvesting of completions from key-7', '{}', 'acme'),
       ('inc-p2', 'drift', 'medium', 'open', NULL, 'chat-large', 'v3', now() - interval '3 hours', now() - interval '2 hours',
        now() - interval '1 hour', 3, '{AML.T0031}', '{LLM04:2025}',
        'Model chat-large version v3 drifted from its early traffic', '{}', NULL);
INSERT INTO alerts (incident_id, type, severity, ts, event_id, api_key_id, model, model_version, summary, evidence)
VALUES ('inc-p1', 'extraction', 'high', now() - interval '35 minutes', 'ev-p1-65-0', 'key-7', 'chat-large', 'v2',
        'key-7 harvests completions', '{"pattern":"harvest","novelty":0.93,"key_baseline_per_5min":10}'),
       ('inc-p1', 'extraction', 'high', now() - interval '20 minutes', 'ev-p1-80-0', 'key-7', 'chat-large', 'v2',
        'key-7 harvests completions', '{"pattern":"harvest","novelty":0.88,"key_baseline_per_5min":10}');
-- two coalesced rows (an alert storm's shape): one alert, no. 3; four, nos. 4-7
INSERT INTO alerts (incident_id, type, severity, ts, event_id, api_key_id, model, model_version, summary, evidence,
                    count, last_ts, first_seq, last_seq)
VALUES ('inc-p1', 'extraction', 'high', now() - interval '19 minutes', 'ev-p1-81-0', 'key-7', 'chat-large', 'v2',
        'key-7 harvests completions', '{"pattern":"harvest"}', 1, now() - interval '19 minutes', 3, 3),
       ('inc-p1', 'extraction', 'high', now() - interval '18 minutes', 'ev-p1-82-0', 'key-7', 'chat-large', 'v2',
        'key-7 harvests completions', '{"pattern":"harvest"}', 4, now() - interval '15 minutes', 4, 7);
INSERT INTO alerts (incident_id, type, severity, ts, event_id, api_key_id, model, model_version, summary, evidence)
SELECT 'inc-p2', 'drift', 'medium', now() - interval '2 hours' + g * interval '20 minutes', 'ev-p2-' || g, NULL,
       'chat-large', 'v3', 'drift window ' || g,
       json_build_object('psi', json_build_object('prompt_tokens', 0.1 + g * 0.12, 'completion_tokens', 0.05 + g * 0.03),
                         'windows_over_threshold', g + 1)::jsonb
FROM generate_series(0, 2) g;
INSERT INTO incident_updates (incident_id, status, actor, at)
VALUES ('inc-p1', 'investigating', 'analyst', now() - interval '25 minutes'),
       ('inc-b01', 'resolved', 'analyst', now() - interval '20 minutes');
UPDATE incidents SET status = 'resolved' WHERE incident_id = 'inc-b01';
-- inc-p3: a probing incident the learned detector raised with an instruction
-- planted in the e-mail the prompt carries: its top features and signals
INSERT INTO incidents (incident_id, type, severity, status, api_key_id, model, model_version,
                       first_seen, detected_at, last_seen, alerts, atlas, owasp, summary, doc, tenant)
VALUES ('inc-p3', 'probing', 'low', 'open', 'key-9', 'chat-large', 'v2', now() - interval '50 minutes',
        now() - interval '50 minutes', now() - interval '50 minutes', 1, '{AML.T0051}', '{LLM01:2025}',
        'Key key-9 sent 1 jailbreak or prompt-injection attempt in the last hour; learned detector and planted instruction', '{}', 'acme');
INSERT INTO alerts (incident_id, type, severity, ts, event_id, api_key_id, model, model_version, summary, evidence)
VALUES ('inc-p3', 'probing', 'low', now() - interval '50 minutes', 'ev-p3-1', 'key-9', 'chat-large', 'v2',
        'Key key-9 sent 1 jailbreak or prompt-injection attempt in the last hour; learned detector and planted instruction: learned score 0.981, an instruction planted in the content it carries (prose_after_table: a task written after a table''s rows).',
        '{"pattern":"learned detector and planted instruction","probe_score":0,"learned_score":0.981,
          "learned_top":[{"feature":"prose_after_table","kind":"dense","weight":2.412},
                         {"feature":"your reply","kind":"word2","weight":0.734},
                         {"feature":"append","kind":"ctx","weight":0.351},
                         {"feature":" <b>x</b>","kind":"char","weight":0.12},
                         {"feature":"lm_mean","kind":"dense","weight":-0.2}],
          "learned_planted":"prose_after_table","signals":["learned score","planted instruction"]}');
