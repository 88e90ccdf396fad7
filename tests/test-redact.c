/* Secrets never reach /v1/sources or the log: URL user-info and
 * credential-looking values in error text are masked. */
#include <stdlib.h>
#include <string.h>

#include "util/redact.h"
#include "tap.h"

static void url_is(const char *in, const char *want, const char *what) {
        char *got = redact_url(in);

        is_str(got, want, "%s", what);
        free(got);
}

static void test_urls(void) {
        url_is("http://alice:pw@host/memory", "http://alice:***@host/memory", "user:password keeps the user");
        url_is("https://tok3n@host:8443/x?y=1", "https://***@host:8443/x?y=1", "a lone user may be a token: hidden");
        url_is("http://a:b@c@host/", "http://a:***@host/", "the last '@' ends the user-info");
        url_is("http://host/path@x", "http://host/path@x", "an '@' in the path is not user-info");
        url_is("http://host:9091/memory", "http://host:9091/memory", "a URL without user-info is unchanged");
        url_is("http://u:@host/", "http://u:***@host/", "an empty password is still masked");
        url_is("not a url", "not a url", "other text is copied");
        ok(redact_url(NULL) == NULL, "NULL gives NULL");
}

static void secrets_are(const char *in, const char *want, const char *what) {
        char buf[512];

        strcpy(buf, in);
        redact_secrets(buf);
        is_str(buf, want, "%s", what);
}

static void test_secrets(void) {
        secrets_are("HTTP 403: SignatureDoesNotMatch: The request signature we calculated does not match",
                    "HTTP 403: SignatureDoesNotMatch: The request signature we calculated does not match",
                    "prose about signatures is kept");
        secrets_are("canonical: Authorization: AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/2026, Signature=abcdef",
                    "canonical: Authorization: ***", "an Authorization header is masked to the line's end");
        secrets_are("X-Amz-Signature=0123abcd&X-Amz-Credential=AKIDEXAMPLE%2F2026&x=1",
                    "X-Amz-Signature=***&X-Amz-Credential=***&x=1", "presigned URL parameters are masked");
        secrets_are("x-amz-security-token:FQoGZXIvYXdzEJr// next", "x-amz-security-token:*** next",
                    "a security token header is masked");
        secrets_are("{\"password\": \"hunter2\", \"user\": \"bob\"}", "{\"password\": \"***\", \"user\": \"bob\"}",
                    "a JSON password is masked, the user kept");
        secrets_are("login failed for password=s3cr3t;", "login failed for password=***;", "password= is masked");
        secrets_are("access_token=eyJhbGciOi.xyz and more", "access_token=*** and more", "a token is masked");
        secrets_are("key AKIAIOSFODNN7EXAMPLE used", "key AKIA*** used", "an AWS access key id is masked");
        secrets_are("fetching http://alice:pw@host/x failed", "fetching http://***@host/x failed",
                    "URL user-info in text is masked");
        secrets_are("pwd=ab", "pwd=**", "a short value becomes as many stars, never longer");
        secrets_are("the token expired", "the token expired", "a key word with no value is kept");
        redact_secrets(NULL);
        ok(1, "NULL is a no-op");
}

int main(void) {
        test_urls();
        test_secrets();
        return tap_done();
}
