/* How many actions wait for a person's decision (the console's overview). */
#include <stdlib.h>

#include "core/db.h"
#include "playbooks/playbooks.h"

long long pb_pending_count(PGconn *c, char *err, size_t errlen)
{
    PGresult *r = core_db_query(c,
                                "SELECT count(*) FROM actions WHERE state = 'pending_approval'"
                                " AND (expires_at IS NULL OR expires_at > now())",
                                0, NULL, "counting pending actions", err, errlen);
    if (!r)
        return -1;
    long long n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return n;
}
