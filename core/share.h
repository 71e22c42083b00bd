/* Where custos finds the files it ships: signature rules, playbooks, the
 * demo's prompt sets (and, later, the console's assets). */
#ifndef CORE_SHARE_H
#define CORE_SHARE_H

#include <stddef.h>

/* The share folder, resolved once: $CUSTOS_SHARE_DIR when set; else
 * <bindir>/../share/custos of an installed binary (cmake --install puts
 * bin/custos beside share/custos); else <bindir>/share/custos of a build
 * tree (CMake links it to the sources). Returns a static string, or NULL
 * when none of these exists (the callers then say what to set). */
const char *core_share_dir(void);

/* Writes <share>/<sub> into out (outlen bytes). Returns out, or NULL when
 * there is no share folder or the path does not fit; sets err then. */
const char *core_share_path(const char *sub, char *out, size_t outlen, char *err, size_t errlen);

/* <share>/<sub> for a shipped folder ("rules", "playbooks", "prompts"), as
 * the default of a setting left empty. The string lives for the process.
 * Without a share folder it is a path that names the fix
 * ("(no share folder: set CUSTOS_SHARE_DIR)/<sub>"), so that the error
 * of whoever opens it says what to do. */
const char *core_share_default(const char *sub);

#endif
