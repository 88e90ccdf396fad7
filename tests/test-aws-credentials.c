/* Unit tests for aws-credentials.c: credentials files written to a
 * temporary directory and the environment, read for real. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "transport/aws-credentials.h"
#include "config/config.h"
#include "tap.h"

static char dir[] = "/tmp/test-aws-credentials.XXXXXX";
static char path[256];
static unsigned n_files;
static char error[1024];

/* Writes `text` to a new file of mode `mode` (its name in `path`). */
static void write_file(const char *text, mode_t mode) {
        FILE *f;

        snprintf(path, sizeof path, "%s/%u.credentials", dir, ++n_files);
        f = fopen(path, "we");
        if (!f)
                return;
        fputs(text, f);
        fclose(f);
        chmod(path, mode);
}

/* Loads `profile` from a new file holding `text`, of mode 0600. */
static int load_text(const char *text, const char *profile, AwsCredentials *c) {
        write_file(text, 0600);
        return aws_credentials_load(path, profile, c, error, sizeof error);
}

/* True when `error` is exactly "<prefix><path><rest>". */
static bool error_is(const char *prefix, const char *rest) {
        char want[sizeof path + 256];

        snprintf(want, sizeof want, "%s%s%s", prefix, path, rest);
        if (strcmp(error, want) == 0)
                return true;
        printf("# wanted: %s\n# got:    %s\n", want, error);
        return false;
}

static const char two_profiles[] =
        "; a comment\n"
        "[default]\n"
        "aws_access_key_id = AKIDDEFAULT\n"
        "aws_secret_access_key = wJalr/K7MDENG+bPxRfi:CY\n"
        "\n"
        "[prod]\n"
        "aws_access_key_id = AKIDPROD\n"
        "aws_secret_access_key = SECRETPROD\n"
        "aws_session_token = TOKENPROD\n";

static void test_profiles(void) {
        AwsCredentials c = {};

        is_int(load_text(two_profiles, NULL, &c), 0, "no profile reads [default]");
        is_str(c.access_key_id, "AKIDDEFAULT", "its access key id");
        is_str(c.secret_access_key, "wJalr/K7MDENG+bPxRfi:CY", "its secret, ':' and '/' kept");
        ok(!c.session_token, "the session token is optional and NULL when absent");
        aws_credentials_clear(&c);

        is_int(aws_credentials_load(path, "", &c, error, sizeof error), 0, "an empty profile reads [default]");
        is_str(c.access_key_id, "AKIDDEFAULT", "and takes its keys");
        aws_credentials_clear(&c);

        is_int(aws_credentials_load(path, "prod", &c, error, sizeof error), 0, "profile prod reads [prod]");
        is_str(c.access_key_id, "AKIDPROD", "its access key id, not the default's");
        is_str(c.secret_access_key, "SECRETPROD", "its secret");
        is_str(c.session_token, "TOKENPROD", "its session token");
        aws_credentials_clear(&c);

        is_int(load_text("[profile  prod]\naws_access_key_id = A\naws_secret_access_key = S\n", "prod", &c), 0,
               "the CLI config file's [profile NAME] form is read too");
        is_str(c.access_key_id, "A", "with the keys of that section");
        aws_credentials_clear(&c);

        is_int(load_text("[default]\nAWS_Access_Key_ID = A ; inline comment\naws_secret_access_key = S\n"
                         "aws_secret_access_key = S2\nregion = eu-west-1\n", NULL, &c), 0,
               "key names in any case, other keys ignored");
        is_str(c.access_key_id, "A", "an inline comment is not part of the value");
        is_str(c.secret_access_key, "S2", "a key set twice keeps its last value");
        aws_credentials_clear(&c);
}

/* A file whose line 4 holds a session token of `len` characters, and whose
 * line 6 is not INI. */
static char *token_file(size_t len, char **ret_token) {
        char *token = malloc(len + 1), *text = NULL;

        if (!token)
                return NULL;
        for (size_t i = 0; i < len; i++)
                token[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[i % 64];
        token[len] = '\0';
        if (asprintf(&text, "[default]\naws_access_key_id = A\naws_secret_access_key = S\n"
                     "aws_session_token = %s\n\n", token) < 0)
                text = NULL;
        *ret_token = token;
        return text;
}

static void test_long_token(void) {
        static const size_t lens[] = { 180, 1200, 4000, 8191 - 20 };
        AwsCredentials c = {};
        char *token = NULL, *text, *bad;

        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
                text = token_file(lens[i], &token);
                is_int(load_text(text ?: "", NULL, &c), 0, "a %zu-character session token is accepted", lens[i]);
                is_int(c.session_token ? (long long) strlen(c.session_token) : -1, (long long) lens[i],
                       "and read whole (%zu characters)", lens[i]);
                ok(c.session_token && token && strcmp(c.session_token, token) == 0,
                   "and unchanged (%zu characters)", lens[i]);
                aws_credentials_clear(&c);
                if (text && asprintf(&bad, "%snot ini\n", text) >= 0) {
                        is_int(load_text(bad, NULL, &c), -EINVAL, "a bad line after a %zu-character token is refused",
                               lens[i]);
                        ok(error_is("credentials file ", ":6: not a key = value line"),
                           "at its own line number, 6, after the long line");
                        free(bad);
                }
                free(text);
                free(token);
        }

        text = token_file(9000, &token);
        is_int(load_text(text ?: "", NULL, &c), -EINVAL, "a line longer than the reader's buffer is refused");
        ok(error_is("credentials file ", ":4: line longer than 8191 characters"), "naming its line and the limit");
        ok(!c.access_key_id && !c.session_token, "and nothing is returned");
        free(text);
        free(token);
}

static void test_file_errors(void) {
        AwsCredentials c = {};

        is_int(load_text("[default]\naws_access_key_id = A\n", NULL, &c), -EINVAL, "a missing secret is refused");
        ok(error_is("credentials file ", ": [default] lacks aws_secret_access_key"), "naming the missing key");
        ok(!c.access_key_id, "and the key that was read is not returned");

        is_int(load_text("[prod]\naws_secret_access_key = S\n", "prod", &c), -EINVAL,
               "a missing access key id is refused");
        ok(error_is("credentials file ", ": [prod] lacks aws_access_key_id"), "naming the missing key and profile");

        is_int(load_text("[default]\naws_access_key_id =\naws_secret_access_key = S\n", NULL, &c), -EINVAL,
               "an empty access key id counts as missing");
        ok(error_is("credentials file ", ": [default] lacks aws_access_key_id"), "and is reported so");

        is_int(load_text(two_profiles, "staging", &c), -ENOENT, "a profile the file lacks is refused");
        ok(error_is("credentials file ", " has no [staging] section"), "naming the profile");

        is_int(load_text("[default]\naws_access_key_id = A\njunk\n", NULL, &c), -EINVAL, "a line that is not INI");
        ok(error_is("credentials file ", ":3: not a key = value line"), "is reported at its line");

        snprintf(path, sizeof path, "%s/absent", dir);
        is_int(aws_credentials_load(path, NULL, &c, error, sizeof error), -ENOENT, "a missing file is refused");
        ok(error_is("cannot read credentials file ", ": No such file or directory"), "with the system's reason");

        is_int(aws_credentials_load(path, NULL, &c, error, 0), -EINVAL, "no room for an error is -EINVAL");
}

/* The message config.c gives for the same file at load time. */
static char *config_error_for(const char *creds) {
        char conf[sizeof path + 32], *errors = NULL;
        Config *c = NULL;
        FILE *f;

        snprintf(conf, sizeof conf, "%s/perfwatchd.conf", dir);
        f = fopen(conf, "we");
        if (!f)
                return NULL;
        fprintf(f, "[capacity a]\nsource = cloudwatch\nregion = eu-west-1\ncluster = db\ncredentials_file = %s\n",
                creds);
        fclose(f);
        (void) config_load(conf, &c, &errors);
        config_free(c);
        unlink(conf);
        return errors;
}

static void test_mode(void) {
        static const struct {
                mode_t mode;
                const char *want;
        } modes[] = {
                { 0644, " is readable by group or others (mode 0644); chmod 600 it" },
                { 0640, " is readable by group or others (mode 0640); chmod 600 it" },
                { 0620, " is accessible by group or others (mode 0620); chmod 600 it" },
        };
        AwsCredentials c = {};
        char *errors;
        const char *tail;

        for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
                write_file(two_profiles, modes[i].mode);
                is_int(aws_credentials_load(path, NULL, &c, error, sizeof error), -EACCES,
                       "a file of mode %04o is refused", (unsigned) modes[i].mode);
                ok(error_is("credentials file ", modes[i].want), "with the mode and the fix");
                ok(!c.access_key_id, "and no credentials are returned");
                errors = config_error_for(path);
                tail = errors ? strstr(errors, "credentials_file: ") : NULL;
                ok(tail && strncmp(tail + 18, error + strlen("credentials file "), strlen(error) - 17) == 0,
                   "in the same words as config.c's check of mode %04o", (unsigned) modes[i].mode);
                free(errors);
        }
        write_file(two_profiles, 0400);
        is_int(aws_credentials_load(path, NULL, &c, error, sizeof error), 0, "a file of mode 0400 is accepted");
        aws_credentials_clear(&c);
}

static void test_environment(void) {
        AwsCredentials c = {};

        setenv("AWS_ACCESS_KEY_ID", "ENVID", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "ENVSECRET", 1);
        setenv("AWS_SESSION_TOKEN", "ENVTOKEN", 1);
        is_int(aws_credentials_load(NULL, "prod", &c, error, sizeof error), 0,
               "without a file the environment is read");
        is_str(c.access_key_id, "ENVID", "AWS_ACCESS_KEY_ID");
        is_str(c.secret_access_key, "ENVSECRET", "AWS_SECRET_ACCESS_KEY");
        is_str(c.session_token, "ENVTOKEN", "AWS_SESSION_TOKEN");
        aws_credentials_clear(&c);

        setenv("AWS_SESSION_TOKEN", "", 1);
        is_int(aws_credentials_load(NULL, NULL, &c, error, sizeof error), 0, "an empty AWS_SESSION_TOKEN");
        ok(!c.session_token, "means no session token");
        aws_credentials_clear(&c);
        unsetenv("AWS_SESSION_TOKEN");
        is_int(aws_credentials_load(NULL, NULL, &c, error, sizeof error), 0, "an unset AWS_SESSION_TOKEN");
        ok(!c.session_token, "means no session token either");
        aws_credentials_clear(&c);

        unsetenv("AWS_SECRET_ACCESS_KEY");
        is_int(aws_credentials_load(NULL, NULL, &c, error, sizeof error), -ENOENT, "an id without a secret");
        is_str(error, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not", "is refused, naming both");
        ok(!c.access_key_id, "and the id is not returned");

        unsetenv("AWS_ACCESS_KEY_ID");
        is_int(aws_credentials_load(NULL, NULL, &c, error, sizeof error), -ENOENT, "no credentials at all");
        is_str(error, "no AWS credentials: set credentials_file or AWS_ACCESS_KEY_ID", "say where to put them");

        setenv("AWS_ACCESS_KEY_ID", "ENVID", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "ENVSECRET", 1);
        is_int(load_text(two_profiles, NULL, &c), 0, "a credentials file");
        is_str(c.access_key_id, "AKIDDEFAULT", "wins over the environment");
        aws_credentials_clear(&c);
        unsetenv("AWS_ACCESS_KEY_ID");
        unsetenv("AWS_SECRET_ACCESS_KEY");
}

static void test_clear(void) {
        AwsCredentials c = {};
        char *s = strdup("secret");

        is_int(load_text(two_profiles, "prod", &c), 0, "credentials with a session token");
        ok(c.access_key_id && c.secret_access_key && c.session_token, "have all three strings");
        aws_credentials_clear(&c);
        ok(!c.access_key_id, "clear NULLs the access key id");
        ok(!c.secret_access_key, "clear NULLs the secret");
        ok(!c.session_token, "clear NULLs the session token");
        aws_credentials_clear(&c);
        aws_credentials_clear(NULL);
        ok(!c.access_key_id && !c.secret_access_key && !c.session_token,
           "clearing twice, or NULL, is a no-op");
        aws_credentials_free_secret(&s);
        ok(!s, "free_secret NULLs the string it freed");
}

int main(void) {
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        unsetenv("AWS_ACCESS_KEY_ID");
        unsetenv("AWS_SECRET_ACCESS_KEY");
        unsetenv("AWS_SESSION_TOKEN");
        test_profiles();
        test_long_token();
        test_file_errors();
        test_mode();
        test_environment();
        test_clear();

        for (unsigned i = 1; i <= n_files; i++) {
                snprintf(path, sizeof path, "%s/%u.credentials", dir, i);
                unlink(path);
        }
        rmdir(dir);
        return tap_done();
}
