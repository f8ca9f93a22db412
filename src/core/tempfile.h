/*
 * Unlinked temporary files in $TMPDIR (or /tmp): a file that is gone
 * from the directory as soon as it exists, so it vanishes with its last
 * descriptor whatever happens to the process. The farm spools an
 * unseekable job source and spills large task output into these. The
 * callers word their own messages, and name $TMPDIR and
 * tf_tempfile_dir() in them. No MPI.
 */
#ifndef TF_TEMPFILE_H
#define TF_TEMPFILE_H

/** The directory temporary files go to: $TMPDIR if set and not empty,
 * else "/tmp". The string is the environment's (or static). */
const char *tf_tempfile_dir(void);

/**
 * Creates a file tf_tempfile_dir()/PREFIX-XXXXXX readable and writable
 * by the owner only, close-on-exec, and unlinks it at once. Returns its
 * descriptor (the caller closes it), or -errno with nothing open:
 * -ENAMETOOLONG if the path would not fit, else mkostemp()'s error (a
 * missing or unwritable $TMPDIR, a full file system) and nothing
 * created, or unlink()'s (the file may then remain).
 */
int tf_tempfile_open(const char *prefix);

#endif
