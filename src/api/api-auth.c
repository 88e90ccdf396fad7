/* The bearer token of the routes that act: read from [daemon]
 * api_token_file with the checks a secret on disk deserves, kept in a
 * fixed-size buffer, and compared in constant time. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api-internal.h"
#include "util/util.h"

/* Whether `path` lies under $CREDENTIALS_DIRECTORY: systemd's copies of
 * LoadCredential= files are private to the unit, whatever their mode
 * bits say (an ACL may show up as group bits). */
static bool under_credentials_dir(const char *path) {
        const char *dir = getenv("CREDENTIALS_DIRECTORY");
        size_t n;

        if (!dir || dir[0] != '/')
                return false;
        n = strlen(dir);
        while (n > 1 && dir[n - 1] == '/')
                n--;
        return strncmp(path, dir, n) == 0 && path[n] == '/' && !strstr(path + n, "/../");
}

/* Reads at most API_TOKEN_MAX + 2 bytes (a token, a CR and a LF). */
static int read_token(int fd, char *buf, size_t *ret_len) {
        size_t len = 0;
        ssize_t k;

        while (len < API_TOKEN_MAX + 3) {
                k = read(fd, buf + len, API_TOKEN_MAX + 3 - len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;
                len += (size_t) k;
        }
        *ret_len = len;
        return 0;
}

static int check_token(const char *path, char *buf, size_t len, char **ret_error) {
        if (len > 0 && buf[len - 1] == '\n')
                len--;
        if (len > 0 && buf[len - 1] == '\r')
                len--;
        buf[len] = '\0';
        if (len == 0)
                return set_error(ret_error, -EINVAL, "api_token_file %s: is empty%s", path,
                                 under_credentials_dir(path)
                                         ? " (the unit's stand-in: is the file of LoadCredential= missing?)"
                                         : "");
        if (len > API_TOKEN_MAX)
                return set_error(ret_error, -EINVAL, "api_token_file %s: the token is longer than %u bytes",
                                 path, API_TOKEN_MAX);
        for (size_t i = 0; i < len; i++)
                if ((unsigned char) buf[i] <= ' ' || buf[i] == 0x7f)
                        return set_error(ret_error, -EINVAL,
                                         "api_token_file %s: the token holds a space or control character "
                                         "(only its trailing newline is stripped)", path);
        return 0;
}

int api_token_read(const char *path, char **ret, char **ret_error) {
        char buf[API_TOKEN_MAX + 4];
        struct stat st;
        size_t len = 0;
        int fd, k;

        *ret = NULL;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return set_error(ret_error, -errno, "api_token_file %s: %s", path, strerror(errno));
        if (fstat(fd, &st) < 0) {
                k = set_error(ret_error, -errno, "api_token_file %s: %s", path, strerror(errno));
                goto out;
        }
        if (!S_ISREG(st.st_mode)) {
                k = set_error(ret_error, -EINVAL, "api_token_file %s: not a regular file", path);
                goto out;
        }
        if ((st.st_mode & 077) != 0 && !under_credentials_dir(path)) {
                k = set_error(ret_error, -EPERM,
                              "api_token_file %s: mode %04o lets group or others read it; "
                              "chmod 600 it (or pass it with LoadCredential=)",
                              path, (unsigned) (st.st_mode & 07777));
                goto out;
        }
        k = read_token(fd, buf, &len);
        if (k < 0) {
                set_error(ret_error, k, "api_token_file %s: %s", path, strerror(-k));
                goto out;
        }
        k = check_token(path, buf, len, ret_error);
        if (k >= 0 && !(*ret = strdup(buf)))
                k = -ENOMEM;
out:
        explicit_bzero(buf, sizeof buf);
        close(fd);
        return k;
}

void api_token_set(ApiToken *t, const char *token) {
        size_t n = token ? strlen(token) : 0;

        explicit_bzero(t, sizeof *t);
        if (!token || n == 0 || n > API_TOKEN_MAX)
                return;
        memcpy(t->buf, token, n);
        t->len = n;
        t->set = true;
}

/* NB: the time taken depends on neither the token's length nor where the
 * presented one first differs: both are compared over the whole buffer,
 * padded with zeroes, and the lengths are folded into the same result. */
bool api_token_equal(const ApiToken *t, const char *presented) {
        unsigned char pad[API_TOKEN_MAX] = { 0 };
        size_t n = strnlen(presented, API_TOKEN_MAX + 1);
        volatile unsigned char diff = 0;

        memcpy(pad, presented, n > API_TOKEN_MAX ? API_TOKEN_MAX : n);
        for (size_t i = 0; i < API_TOKEN_MAX; i++)
                diff |= (unsigned char) (pad[i] ^ (unsigned char) t->buf[i]);
        diff |= (unsigned char) ((n ^ t->len) | ((n ^ t->len) >> 8) | ((n ^ t->len) >> 16));
        explicit_bzero(pad, sizeof pad);
        return t->set && diff == 0;
}

/* "Bearer TOKEN" (the scheme in any case, RFC 7235), or NULL. */
const char *api_token_from_header(const char *authorization) {
        if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
                return NULL;
        authorization += 7;
        while (*authorization == ' ')
                authorization++;
        return authorization;
}
