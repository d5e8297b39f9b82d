/**
 * The vfio-user client backend: the {@link vfio.api.backend.BackendFactory} component for
 * {@code vfio-user:/path/to/server.sock} addresses, its configuration and the address checks.
 *
 * <p>Private to the bundle; not exported.
 */
package vfio.backend.user.internal;
