/* AWS credentials for signing requests, read as the AWS CLI reads them: from
 * a shared credentials file, or from the environment. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

typedef struct AwsCredentials {
        char *access_key_id;
        char *secret_access_key;
        char *session_token;         /* may be NULL */
} AwsCredentials;

/* Reads the credentials from `path` when not NULL (the shared credentials
 * file format: a [PROFILE] or [profile PROFILE] section with
 * aws_access_key_id, aws_secret_access_key and optionally aws_session_token;
 * `profile` NULL or "" means "default"), else from AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.  A file that group or others
 * may access is refused.  Returns 0, or a negative errno with a one-line
 * reason in `error`.  The strings in *ret are the caller's, to be given back
 * with aws_credentials_clear(). */
int aws_credentials_load(const char *path, const char *profile, AwsCredentials *ret,
                         char *error, size_t error_size);

/* Overwrites, frees and NULLs the strings of `c`; NULL is a no-op. */
void aws_credentials_clear(AwsCredentials *c);

/* Overwrites, frees and NULLs a string that holds a secret; NULL *s is a
 * no-op. */
void aws_credentials_free_secret(char **s);

/* Whether a credentials file of this mode is private to its owner, as ssh
 * wants of private keys: 0, or -EACCES with the problem and its fix in
 * `problem`, to follow the file's name: "is readable by group or others
 * (mode 0644); chmod 600 it". */
int aws_credentials_check_mode(mode_t mode, char *problem, size_t n);
