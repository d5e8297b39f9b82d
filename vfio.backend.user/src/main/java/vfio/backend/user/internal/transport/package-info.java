/**
 * The connection to one vfio-user server: request/reply matching with leader/follower reading, the
 * watchdog for overdue requests, and the serving of the server's own commands (also on a twin
 * socket).
 *
 * <p>Private to the bundle; not exported.
 */
package vfio.backend.user.internal.transport;
