/* Keeps secrets out of what perfwatchd shows (/v1/sources, the log): the
 * user-info of URLs, and credentials or signatures quoted in an upstream's
 * error text. */
#pragma once

/* A copy of `url` with its user-info redacted: the password of
 * "user:password@" becomes three stars, and a lone "user@" (it may be a
 * token) becomes three stars whole; any other text is copied as is.  The caller frees
 * it; NULL when out of memory. */
char *redact_url(const char *url);

/* Masks, in place, every value in `text` that looks like a credential:
 * an Authorization header (to the end of the line), key=value or key: value
 * pairs whose key names a signature, credential, token, password, secret
 * or key (Signature=, X-Amz-Credential=, X-Amz-Security-Token:,
 * password=, "token":"..."), AWS access key ids (AKIA..., ASIA...) and URL
 * user-info.  Each value becomes "***" (or as many '*' when shorter), so the
 * text never grows. */
void redact_secrets(char *text);
