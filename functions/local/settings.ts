/**
 * What the local mirror may call without MIRROR_ALLOWED_TARGETS: a Prometheus on this machine
 * on its default port. Anything else is named in MIRROR_ALLOWED_TARGETS (`*` for any target).
 */
export const LOCAL_MIRROR_TARGETS = "127.0.0.1:9090,localhost:9090,[::1]:9090";
