/* Unit tests for load/template.c: every placeholder, adjacency, escapes,
 * every compile error with its reason, short buffers, the UUID format, the
 * range and rough uniformity of ${rand:N}, expansion from two threads at
 * once, and what a big template costs. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "load/template.h"
#include "tap.h"
#include "util/util.h"

static Template *compile_ok(const char *text) {
        Template *t = NULL;
        char *error = NULL;

        if (template_compile(text, &t, &error) < 0) {
                printf("# template_compile(\"%s\"): %s\n", text, error ? error : "(no reason)");
                abort();
        }
        free(error);
        return t;
}

/* Expands `text` with seq and user into a static buffer. */
static const char *expand(const char *text, uint64_t seq, uint64_t user) {
        static char buf[256];
        TemplateRng rng;
        TemplateVars v = { .seq = seq, .user = user, .rng = &rng };
        Template *t = compile_ok(text);

        template_rng_seed(&rng, 1);
        template_expand(t, &v, buf, sizeof buf);
        template_unref(t);
        return buf;
}

/* Expands `text` with ${seq} 5 and ${user} 7 into buf (n bytes). */
static const char *expand_big(const char *text, char *buf, size_t n) {
        TemplateVars v = { .seq = 5, .user = 7 };
        Template *t = compile_ok(text);

        template_expand(t, &v, buf, n);
        template_unref(t);
        return buf;
}

static void check_error(const char *text, const char *want) {
        Template *t = NULL;
        char *error = NULL;
        int r = template_compile(text, &t, &error);

        is_int(r, -EINVAL, "\"%s\" is rejected", text);
        ok(!t, "and gives no template");
        is_str(error, want, "\"%s\" says why", text);
        free(error);
}

static void test_placeholders(void) {
        is_str(expand("/items/${seq}", 42, 7), "/items/42", "${seq} is the sequence number");
        is_str(expand("/users/${user}", 42, 7), "/users/7", "${user} is the virtual user's number");
        is_str(expand("${seq}", 0, 0), "0", "${seq} 0");
        is_str(expand("${seq}/${user}", UINT64_MAX, UINT64_MAX), "18446744073709551615/18446744073709551615",
               "the largest numbers in full");
        is_str(expand("${rand:1}", 1, 1), "0", "${rand:1} is always 0");
        is_str(expand("plain /path?q=1", 1, 1), "plain /path?q=1", "text without placeholders is copied");
        is_str(expand("", 1, 1), "", "an empty template expands to nothing");

        setenv("PW_TEST_TOKEN", "s3cr${seq}t", 1);
        is_str(expand("Bearer ${env:PW_TEST_TOKEN}", 5, 6), "Bearer s3cr${seq}t",
               "${env:NAME} is the variable's value, taken literally");
        {
                Template *t = compile_ok("${env:PW_TEST_TOKEN}!");
                char buf[64];

                setenv("PW_TEST_TOKEN", "changed", 1);
                template_expand(t, &(TemplateVars) { 0 }, buf, sizeof buf);
                is_str(buf, "s3cr${seq}t!", "the variable is read once, at compile time");
                ok(template_is_constant(t), "a template with only text and ${env:...} is constant");
                template_unref(t);
        }
        setenv("PW_TEST_EMPTY", "", 1);
        is_str(expand("[${env:PW_TEST_EMPTY}]", 1, 1), "[]", "a variable set to empty is fine");
}

static void test_adjacency_and_escapes(void) {
        is_str(expand("${seq}${user}${seq}", 73, 1), "73173", "placeholders side by side");
        is_str(expand("${user}-${seq}", 1, 2), "2-1", "${user} and ${seq} each in its place");
        is_str(expand("a${seq}b${user}c", 10, 20), "a10b20c", "text between and around");
        is_str(expand("cost $$5", 1, 1), "cost $5", "$$ is a literal $");
        is_str(expand("$${seq}", 9, 1), "${seq}", "$${seq} is the literal text ${seq}");
        is_str(expand("$$${seq}", 9, 1), "$9", "$$ then a placeholder");
        is_str(expand("$$$$", 9, 1), "$$", "two escapes");
        is_str(expand("{seq} }${seq}{", 9, 1), "{seq} }9{", "braces alone are text");
}

/* Bytes malloc has handed out, from the heap or mapped on their own. */
static size_t allocated(void) {
        struct mallinfo2 m = mallinfo2();

        return m.uordblks + m.hblkhd;
}

/* A template holds room for the parts its '$'s can make, not for its
 * length: a 1 MiB body without placeholders compiles into its text (it
 * was 16 MiB of parts, zeroed on every compile, and the text twice over); and one thick with
 * placeholders and escapes still fits each part. */
static void test_big(void) {
        size_t n = 1u << 20, before, grew;
        char *text = malloc(n + 1), *buf = malloc(n + 1), many[8192] = "", want[8192] = "";
        Template *t;

        memset(text, 'b', n);
        text[n] = '\0';
        before = allocated();
        t = compile_ok(text);
        grew = allocated() - before;
        ok(grew < n + n / 4, "a 1 MiB body without placeholders takes %zu KiB compiled (under 1.25 MiB)",
           grew / 1024);
        ok(template_is_constant(t), "and is constant");
        template_expand(t, &(TemplateVars) { 0 }, buf, n + 1);
        ok(strcmp(buf, text) == 0, "and expands to itself");
        template_unref(t);

        for (int i = 0; i < 400; i++) {
                strcat(many, i % 3 == 0 ? "a${seq}" : i % 3 == 1 ? "${user}$$" : "$$${seq}b");
                strcat(want, i % 3 == 0 ? "a5" : i % 3 == 1 ? "7$" : "$5b");
        }
        is_str(expand_big(many, buf, n + 1), want, "400 placeholders and escapes side by side, each in its place");
        free(text);
        free(buf);
}

static void test_errors(void) {
        check_error("/a/${seq", "unterminated \"${\" at offset 3");
        check_error("${", "unterminated \"${\" at offset 0");
        check_error("x${}", "empty placeholder ${} at offset 1");
        check_error("${rand:0}", "${rand:0}: the bound N must be at least 1");
        check_error("${rand:abc}", "${rand:abc}: \"abc\" is not a positive integer");
        check_error("${rand:-1}", "${rand:-1}: \"-1\" is not a positive integer");
        check_error("${rand:1.5}", "${rand:1.5}: \"1.5\" is not a positive integer");
        check_error("${rand: 5}", "${rand: 5}: \" 5\" is not a positive integer");
        check_error("${rand:}", "${rand:}: the bound N is missing (write ${rand:N}, N >= 1)");
        check_error("${rand:18446744073709551616}", "${rand:18446744073709551616}: the bound is larger than 2^64-1");
        check_error("${env:}", "${env:}: the variable name is empty");
        check_error("${env:PW_TEST_SURELY_UNSET}", "${env:PW_TEST_SURELY_UNSET}: environment variable "
                                                   "PW_TEST_SURELY_UNSET is not set");
        check_error("/a/${foo}", "unknown placeholder ${foo} at offset 3 (known: ${seq}, ${user}, ${uuid}, "
                                 "${rand:N}, ${env:NAME}, ${doc}, ${token}; $$ for a literal $)");
        check_error("${SEQ}", "unknown placeholder ${SEQ} at offset 0 (known: ${seq}, ${user}, ${uuid}, "
                              "${rand:N}, ${env:NAME}, ${doc}, ${token}; $$ for a literal $)");
        check_error("${rand}", "unknown placeholder ${rand} at offset 0 (known: ${seq}, ${user}, ${uuid}, "
                               "${rand:N}, ${env:NAME}, ${doc}, ${token}; $$ for a literal $)");
        check_error("/a/$seq", "\"$\" at offset 3 starts no placeholder (write \"$$\" for a literal \"$\")");
        check_error("abc$", "\"$\" at offset 3 starts no placeholder (write \"$$\" for a literal \"$\")");
        check_error(NULL, "no template text");
        {
                Template *t = NULL;

                is_int(template_compile("${x}", &t, NULL), -EINVAL, "ret_error may be NULL");
                ok(template_compile("${rand:18446744073709551615}", &t, NULL) == 0, "N = 2^64-1 is accepted");
                template_unref(t);
        }
        ok(template_unref(NULL) == NULL, "template_unref(NULL) is a no-op");
}

static void test_short_buffer(void) {
        Template *t = compile_ok("/items/${seq}");
        TemplateVars v = { .seq = 12345 };
        char buf[32];

        memset(buf, 'X', sizeof buf);
        is_int(template_expand(t, &v, buf, 5), 12, "a short buffer still gets the full length");
        is_str(buf, "/ite", "and is cut and terminated like snprintf");
        ok(buf[5] == 'X', "nothing is written past size");
        is_int(template_expand(t, &v, NULL, 0), 12, "size 0 only measures");
        is_int(template_expand(t, &v, buf, 12), 12, "size = length is one short");
        is_str(buf, "/items/1234", "and loses the last byte for the NUL");
        is_int(template_expand(t, &v, buf, 13), 12, "size = length + 1 fits");
        is_str(buf, "/items/12345", "in full");
        memset(buf, 'X', sizeof buf);
        template_expand(t, &v, buf, 9);
        is_str(buf, "/items/1", "cut inside a placeholder");
        is_int(template_max_length(t), 7 + 20, "max length: the text and 20 digits for ${seq}");
        ok(!template_is_constant(t), "a template with ${seq} is not constant");
        template_unref(t);

        t = compile_ok("${uuid}/${rand:1000}/${user}/${rand:1}$$");
        is_int(template_max_length(t), 36 + 1 + 3 + 1 + 20 + 1 + 1 + 1, "max length with ${uuid} and ${rand:N}");
        template_unref(t);
}

static bool is_uuid_v4(const char *s) {
        if (strlen(s) != 36)
                return false;
        for (int i = 0; i < 36; i++) {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;

                if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i]) || !s[i])
                        return false;
        }
        return s[14] == '4' && strchr("89ab", s[19]);
}

static void test_uuid(void) {
        Template *t = compile_ok("${uuid}");
        TemplateRng rng;
        TemplateVars v = { .rng = &rng };
        char first[40], buf[40];
        int bad = 0, same = 0, variants[4] = {};

        template_rng_seed(&rng, 12345);
        is_int(template_expand(t, &v, first, sizeof first), 36, "a UUID is 36 characters");
        ok(is_uuid_v4(first), "\"%s\" is a lower-case version 4, variant 1 UUID", first);
        for (int i = 0; i < 4000; i++) {
                template_expand(t, &v, buf, sizeof buf);
                bad += !is_uuid_v4(buf);
                same += strcmp(buf, first) == 0;
                variants[strchr("89ab", buf[19]) ? strchr("89ab", buf[19]) - "89ab" : 0]++;
        }
        is_int(bad, 0, "4000 more UUIDs are all well-formed");
        is_int(same, 0, "and none repeats the first");
        ok(variants[0] > 800 && variants[1] > 800 && variants[2] > 800 && variants[3] > 800,
           "the random bits beside the variant bits vary (%d %d %d %d)", variants[0], variants[1], variants[2],
           variants[3]);
        v.rng = NULL;
        v.seq = 3;
        template_expand(t, &v, first, sizeof first);
        template_expand(t, &v, buf, sizeof buf);
        is_str(buf, first, "without a generator the value is a function of seq and user");
        ok(is_uuid_v4(buf), "and still a version 4 UUID");
        template_unref(t);
}

static void test_rand(void) {
        Template *t = compile_ok("${rand:10}");
        TemplateRng rng;
        TemplateVars v = { .rng = &rng };
        int counts[10] = {}, outside = 0, lo = 1 << 30, hi = 0;
        char buf[32];

        template_rng_seed(&rng, 99);
        for (int i = 0; i < 100000; i++) {
                char *end;
                long x;

                template_expand(t, &v, buf, sizeof buf);
                x = strtol(buf, &end, 10);
                if (*end || x < 0 || x >= 10)
                        outside++;
                else
                        counts[x]++;
        }
        is_int(outside, 0, "100000 draws of ${rand:10} are all in [0, 10)");
        for (int i = 0; i < 10; i++) {
                lo = counts[i] < lo ? counts[i] : lo;
                hi = counts[i] > hi ? counts[i] : hi;
        }
        ok(lo > 9500 && hi < 10500, "every value comes up 10000 +- 5%% times (min %d, max %d)", lo, hi);
        template_unref(t);

        {
                uint64_t big = UINT64_C(3) << 62, above = 0;

                for (int i = 0; i < 10000; i++) {
                        uint64_t x = template_rng_below(&rng, big);

                        outside += x >= big;
                        above += x >= big / 3 * 2;
                }
                is_int(outside, 0, "template_rng_below(3 * 2^62) stays below its bound");
                ok(above > 3000 && above < 3700, "and its top third gets a third of the draws (%llu)",
                   (unsigned long long) above);
        }
        is_int(template_rng_below(&rng, 0), 0, "template_rng_below(0) is 0");
        {
                TemplateRng a, b;

                template_rng_seed(&a, 0);
                template_rng_seed(&b, 1);
                ok(a.state != 0, "seed 0 gives a usable state");
                ok(template_rng_next(&a) != template_rng_next(&b), "close seeds give different streams");
        }
}

typedef struct ThreadArg {
        const Template *t;
        uint64_t seed;
        char out[64];
} ThreadArg;

static void *expand_many(void *p) {
        ThreadArg *a = p;
        TemplateRng rng;
        TemplateVars v = { .rng = &rng };

        template_rng_seed(&rng, a->seed);
        for (uint64_t i = 0; i < 200000; i++) {
                v.seq = i;
                template_expand(a->t, &v, a->out, sizeof a->out);
        }
        return NULL;
}

static void test_threads(void) {
        Template *t = compile_ok("${uuid}-${rand:1000000}");
        ThreadArg a = { .t = t, .seed = 1 }, b = { .t = t, .seed = 2 }, ref = { .t = t, .seed = 1 };
        pthread_t ta, tb;
        int ra, rb;

        expand_many(&ref);
        ra = pthread_create(&ta, NULL, expand_many, &a);
        rb = pthread_create(&tb, NULL, expand_many, &b);
        ok(ra == 0 && rb == 0, "two threads expand one template at once");
        if (ra == 0)
                pthread_join(ta, NULL);
        if (rb == 0)
                pthread_join(tb, NULL);
        is_str(a.out, ref.out, "a thread's results depend on its own generator only");
        ok(strcmp(a.out, b.out) != 0, "and two generators give two streams");
        template_unref(t);
}

/* ${doc} and ${token}: the caller's strings, bounded, and told apart. */
static void test_doc_token(void) {
        Template *t = compile_ok("/docs/${doc}?t=${token}"), *plain = compile_ok("/docs/x"), *doc = compile_ok("/${doc}");
        TemplateVars v = { .doc = "5eed0001-3", .token = "5eed00010000002a" };
        char buf[128], longdoc[TEMPLATE_DOC_MAX + 10];

        template_expand(t, &v, buf, sizeof buf);
        is_str(buf, "/docs/5eed0001-3?t=5eed00010000002a", "${doc} and ${token} are the caller's");
        is_int((long long) template_max_length(t), 6 + TEMPLATE_DOC_MAX + 3 + TEMPLATE_TOKEN_MAX,
               "and bounded by TEMPLATE_DOC_MAX and TEMPLATE_TOKEN_MAX");
        template_expand(t, &(TemplateVars) {}, buf, sizeof buf);
        is_str(buf, "/docs/?t=", "NULL ones are empty");
        memset(longdoc, 'd', sizeof longdoc - 1);
        longdoc[sizeof longdoc - 1] = 0;
        is_int((long long) template_expand(doc, &(TemplateVars) { .doc = longdoc }, buf, sizeof buf),
               1 + TEMPLATE_DOC_MAX, "a longer ${doc} is cut at TEMPLATE_DOC_MAX");
        ok(template_uses(t, TEMPLATE_DOC) && template_uses(t, TEMPLATE_TOKEN), "template_uses finds both");
        ok(template_uses(doc, TEMPLATE_DOC) && !template_uses(doc, TEMPLATE_TOKEN), "and tells them apart");
        ok(!template_uses(plain, TEMPLATE_DOC) && !template_is_constant(t), "a plain path uses none");
        template_unref(t);
        template_unref(plain);
        template_unref(doc);
}

static void *ref_unref(void *t) {
        for (int i = 0; i < 100000; i++)
                template_unref(template_ref(t));
        return NULL;
}

/* A constant template's text is its expansion, kept by the template (no
 * copy needed); one that is not has none.  A reference keeps a template
 * alive after the first holder drops its own, and the last drop frees it
 * (LeakSanitizer, in the ASan build, would say otherwise). */
static void test_constant_text_and_refs(void) {
        Template *t, *t2, *seq;
        const char *text;
        size_t size = 7;
        char buf[64];

        setenv("PW_TEST_TOKEN", "tok", 1);
        t = compile_ok("{\"a\":\"$$${env:PW_TEST_TOKEN}\"}");
        text = template_constant_text(t, &size);
        is_str(text, "{\"a\":\"$tok\"}", "a constant template's text is its expansion");
        is_int((long long) size, 12, "its length");
        template_expand(t, &(TemplateVars) { 0 }, buf, sizeof buf);
        is_str(text, buf, "the same as template_expand gives");
        seq = compile_ok("a${seq}");
        size = 7;
        ok(!template_constant_text(seq, &size) && size == 7, "a template with ${seq} has none");
        template_unref(seq);
        t2 = template_ref(t);
        ok(t2 == t, "template_ref gives the template back");
        {
                pthread_t th[4];

                for (int i = 0; i < 4; i++)
                        pthread_create(&th[i], NULL, ref_unref, t);
                for (int i = 0; i < 4; i++)
                        pthread_join(th[i], NULL);
        }
        ok(!template_unref(t), "after 4 threads took and dropped 100000 references each, the first holder drops its own");
        template_expand(t2, &(TemplateVars) { 0 }, buf, sizeof buf);
        is_str(buf, "{\"a\":\"$tok\"}", "the second still expands it");
        ok(!template_unref(t2), "and the last drop frees it");
        ok(!template_ref(NULL) && !template_unref(NULL), "NULL is a no-op both ways");
}

int main(void) {
        test_placeholders();
        test_doc_token();
        test_adjacency_and_escapes();
        test_errors();
        test_short_buffer();
        test_uuid();
        test_rand();
        test_threads();
        test_big();
        test_constant_text_and_refs();
        return tap_done();
}
