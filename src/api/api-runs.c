/* TEMPORARY STAND-IN (replaced by the runs routes branch before it is
 * merged): the api.h runs contract with no routes behind it, so that the
 * daemon side can be built against it. */
#include "api/api.h"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

static int control_fd = -1;

void api_set_control(Api *a, const ApiControl *control) {
        (void) a;
        (void) control;
        if (control_fd < 0)
                control_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

int api_control_fd(const Api *a) {
        (void) a;
        return control_fd >= 0 ? control_fd : -EBADF;
}

void api_control_dispatch(Api *a) {
        uint64_t v;

        (void) a;
        if (control_fd >= 0)
                (void) !read(control_fd, &v, sizeof v);
}

void api_publish_runs(Api *a, json_t *scenarios, json_t *active) {
        (void) a;
        json_decref(scenarios);
        json_decref(active);
}
