/* AWS credentials from the shared credentials file, parsed with libinih
 * through the INI line reader the configuration uses too, or from the
 * environment. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "transport/aws-credentials.h"
#include "util/ini-lines.h"

typedef struct CredParse {
        const char *profile;
        AwsCredentials *creds;
        IniLineReader reader;
        unsigned bad_line;             /* the first line that could not be read whole; 0: none */
        IniLineProblem bad_line_problem;
        bool found;
        int error;
} CredParse;

static void cred_on_line(void *userdata, const char *text, IniLineProblem problem, size_t column) {
        CredParse *c = userdata;

        if (problem != INI_LINE_OK && c->bad_line == 0) {
                c->bad_line = c->reader.line;
                c->bad_line_problem = problem;
        }
}

/* The shared credentials file names sections after the profile; the CLI's
 * config file says "profile NAME": accept both. */
static bool cred_section_matches(const char *section, const char *profile) {
        if (strcmp(section, profile) == 0)
                return true;
        return strncmp(section, "profile ", 8) == 0 && strcmp(section + 8 + strspn(section + 8, " "), profile) == 0;
}

static int cred_handler(void *u, const char *section, const char *name, const char *value) {
        CredParse *c = u;
        char **field;

        if (!cred_section_matches(section, c->profile))
                return 1;
        c->found = true;

        if (strcasecmp(name, "aws_access_key_id") == 0)
                field = &c->creds->access_key_id;
        else if (strcasecmp(name, "aws_secret_access_key") == 0)
                field = &c->creds->secret_access_key;
        else if (strcasecmp(name, "aws_session_token") == 0)
                field = &c->creds->session_token;
        else
                return 1;

        aws_credentials_free_secret(field);
        *field = *value ? strdup(value) : NULL;
        if (*value && !*field) {
                c->error = -ENOMEM;
                return 0;
        }
        return 1;
}

int aws_credentials_check_mode(mode_t mode, char *problem, size_t n) {
        if (!(mode & 077))
                return 0;
        snprintf(problem, n, "is %s by group or others (mode %04o); chmod 600 it",
                 mode & 044 ? "readable" : "accessible", (unsigned) (mode & 07777));
        return -EACCES;
}

/* Opens the file and refuses it when others can read the secret in it. */
static int cred_open(const char *path, FILE **ret, char *error, size_t error_size) {
        char problem[128];
        struct stat st;
        FILE *f;
        int r;

        f = fopen(path, "re");
        if (!f) {
                r = -errno;
                snprintf(error, error_size, "cannot read credentials file %s: %s", path, strerror(-r));
                return r;
        }
        if (fstat(fileno(f), &st) < 0) {
                r = -errno;
                snprintf(error, error_size, "cannot stat credentials file %s: %s", path, strerror(-r));
                fclose(f);
                return r;
        }
        r = aws_credentials_check_mode(st.st_mode, problem, sizeof problem);
        if (r < 0) {
                snprintf(error, error_size, "credentials file %s %s", path, problem);
                fclose(f);
                return r;
        }
        *ret = f;
        return 0;
}

/* Turns what the parse found into the result, or the first problem. */
static int cred_parse_result(const CredParse *c, int r, const char *path, char *error, size_t error_size) {
        const AwsCredentials *creds = c->creds;

        if (c->reader.read_errno > 0) {
                snprintf(error, error_size, "cannot read credentials file %s: %s", path,
                         strerror(c->reader.read_errno));
                return -c->reader.read_errno;
        }
        if (c->error < 0 || r == -2) {
                snprintf(error, error_size, "cannot read credentials file %s: %s", path, strerror(ENOMEM));
                return -ENOMEM;
        }
        if (c->bad_line > 0) {
                snprintf(error, error_size, "credentials file %s:%u: %s", path, c->bad_line,
                         ini_line_problem_to_string(c->bad_line_problem));
                return -EINVAL;
        }
        if (r != 0) {
                snprintf(error, error_size, "credentials file %s:%d: not a key = value line", path, r);
                return -EINVAL;
        }
        if (!c->found) {
                snprintf(error, error_size, "credentials file %s has no [%s] section", path, c->profile);
                return -ENOENT;
        }
        if (!creds->access_key_id || !creds->secret_access_key) {
                snprintf(error, error_size, "credentials file %s: [%s] lacks %s", path, c->profile,
                         !creds->access_key_id ? "aws_access_key_id" : "aws_secret_access_key");
                return -EINVAL;
        }
        return 0;
}

static int cred_from_file(const char *path, const char *profile, AwsCredentials *creds,
                          char *error, size_t error_size) {
        CredParse c = { .profile = profile, .creds = creds };
        int r;

        c.reader = (IniLineReader) { .on_line = cred_on_line, .userdata = &c };
        r = cred_open(path, &c.reader.f, error, error_size);
        if (r < 0)
                return r;
        r = ini_lines_parse(&c.reader, cred_handler, &c);
        fclose(c.reader.f);
        return cred_parse_result(&c, r, path, error, error_size);
}

static int cred_from_env(AwsCredentials *creds, char *error, size_t error_size) {
        const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
        const char *token = getenv("AWS_SESSION_TOKEN");

        if (!id || !*id) {
                snprintf(error, error_size, "no AWS credentials: set credentials_file or AWS_ACCESS_KEY_ID");
                return -ENOENT;
        }
        if (!secret || !*secret) {
                snprintf(error, error_size, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
                return -ENOENT;
        }
        creds->access_key_id = strdup(id);
        creds->secret_access_key = strdup(secret);
        creds->session_token = token && *token ? strdup(token) : NULL;
        if (!creds->access_key_id || !creds->secret_access_key || (token && *token && !creds->session_token)) {
                snprintf(error, error_size, "cannot copy the AWS credentials: %s", strerror(ENOMEM));
                return -ENOMEM;
        }
        return 0;
}

int aws_credentials_load(const char *path, const char *profile, AwsCredentials *ret,
                         char *error, size_t error_size) {
        AwsCredentials creds = {};
        int r;

        if (!ret || !error || error_size == 0)
                return -EINVAL;
        error[0] = '\0';

        if (path)
                r = cred_from_file(path, profile && *profile ? profile : "default", &creds, error, error_size);
        else
                r = cred_from_env(&creds, error, error_size);
        if (r < 0) {
                aws_credentials_clear(&creds);
                return r;
        }
        *ret = creds;
        return 0;
}

void aws_credentials_free_secret(char **s) {
        if (!*s)
                return;
        explicit_bzero(*s, strlen(*s));
        free(*s);
        *s = NULL;
}

void aws_credentials_clear(AwsCredentials *c) {
        if (!c)
                return;
        aws_credentials_free_secret(&c->access_key_id);
        aws_credentials_free_secret(&c->secret_access_key);
        aws_credentials_free_secret(&c->session_token);
}
