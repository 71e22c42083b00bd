-- custos schema 5: an action that no effector carries out (a notify to a
-- webhook that is not configured) ends 'skipped', with every effector's
-- outcome in result, instead of 'done'.
ALTER TABLE actions DROP CONSTRAINT actions_state_check;
ALTER TABLE actions ADD CONSTRAINT actions_state_check CHECK (state IN ('proposed',
    'pending_approval', 'approved', 'executing', 'done', 'failed', 'skipped', 'rejected',
    'expired', 'dry_run'));
