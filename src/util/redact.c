#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/redact.h"

/* Key names (matched case-insensitively at the end of a key) whose values
 * are secrets.  "signature" covers X-Amz-Signature, "credential"
 * X-Amz-Credential, "token" X-Amz-Security-Token and access_token. */
static const char *const secret_keys[] = {
        "signature", "credential", "credentials", "token", "password", "passwd", "pwd", "secret",
        "api_key", "apikey", "api-key", "access_key", "secret_key", "private_key",
};

/* Where a URL's user-info ends ('@'), or NULL: it must come before the
 * end of the authority. */
static const char *userinfo_end(const char *authority) {
        const char *end = authority + strcspn(authority, "/?# \t\r\n\"'<>");
        const char *at = NULL;

        for (const char *q = authority; q < end; q++)
                if (*q == '@')
                        at = q;
        return at;
}

char *redact_url(const char *url) {
        const char *sep = url ? strstr(url, "://") : NULL;
        const char *auth, *at, *colon;
        size_t keep;
        char *out;

        if (!url)
                return NULL;
        if (!sep || !(at = userinfo_end(sep + 3)))
                return strdup(url);
        auth = sep + 3;
        colon = memchr(auth, ':', (size_t) (at - auth));
        /* A user without a password may itself be a token: hide it all. */
        keep = colon ? (size_t) (colon + 1 - url) : (size_t) (auth - url);
        out = malloc(keep + 3 + strlen(at) + 1);
        if (!out)
                return NULL;
        memcpy(out, url, keep);
        memcpy(out + keep, "***", 3);
        strcpy(out + keep + 3, at);
        return out;
}

/* Replaces text[start, end) by "***" (or '*'s when shorter), closing the gap. */
static size_t mask(char *text, size_t start, size_t end) {
        size_t len = end - start, put = len < 3 ? len : 3;

        memset(text + start, '*', put);
        memmove(text + start + put, text + end, strlen(text + end) + 1);
        return start + put;
}

static bool is_key_char(char c) {
        return isalnum((unsigned char) c) || c == '_' || c == '-';
}

/* After a secret key at text[i..k): the value's start, past "=", ":",
 * quotes and blanks, or 0 when no value follows. */
static size_t value_start(const char *text, size_t k) {
        if (text[k] == '"' || text[k] == '\'')
                k++;
        while (text[k] == ' ')
                k++;
        if (text[k] != '=' && text[k] != ':')
                return 0;
        k++;
        while (text[k] == ' ' || text[k] == '"' || text[k] == '\'')
                k++;
        return k;
}

static size_t value_end(const char *text, size_t v, bool to_line_end) {
        return v + strcspn(text + v, to_line_end ? "\r\n" : " \t\r\n,;&\"'<>)}]");
}

/* If a secret key ends at text[k), masks its value; returns where to go on. */
static size_t mask_key_value(char *text, size_t key_start, size_t k) {
        size_t klen = k - key_start, v, e;
        bool auth = klen == 13 && strncasecmp(text + key_start, "authorization", 13) == 0;
        bool secret = auth;

        for (size_t i = 0; !secret && i < sizeof(secret_keys) / sizeof(secret_keys[0]); i++) {
                size_t n = strlen(secret_keys[i]);
                secret = klen >= n && strncasecmp(text + k - n, secret_keys[i], n) == 0;
        }
        if (!secret || !(v = value_start(text, k)))
                return k;
        e = value_end(text, v, auth);
        return e > v ? mask(text, v, e) : k;
}

static bool is_access_key_id(const char *p) {
        if (strncmp(p, "AKIA", 4) != 0 && strncmp(p, "ASIA", 4) != 0)
                return false;
        for (int i = 4; i < 20; i++)
                if (!isupper((unsigned char) p[i]) && !isdigit((unsigned char) p[i]))
                        return false;
        return !isalnum((unsigned char) p[20]);
}

static size_t mask_url_userinfo(char *text, size_t i) {
        const char *at = userinfo_end(text + i + 3);

        if (!at)
                return i + 3;
        return mask(text, i + 3, (size_t) (at - text)) + 1;
}

void redact_secrets(char *text) {
        size_t i = 0, k;

        while (text && text[i]) {
                if (strncmp(text + i, "://", 3) == 0) {
                        i = mask_url_userinfo(text, i);
                        continue;
                }
                if (!is_key_char(text[i]) || (i > 0 && is_key_char(text[i - 1]))) {
                        i++;
                        continue;
                }
                if (is_access_key_id(text + i)) {
                        i = mask(text, i + 4, i + 20);
                        continue;
                }
                for (k = i; is_key_char(text[k]); k++)
                        ;
                i = mask_key_value(text, i, k);
        }
}
