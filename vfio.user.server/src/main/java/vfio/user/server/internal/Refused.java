package vfio.user.server.internal;

/**
 * A client request the server will not carry out: answered with an error reply carrying {@link
 * #errno()}; the connection stays up.
 */
final class Refused extends Exception {
    private static final long serialVersionUID = 1L;

    private final int errno;

    Refused(int errno, String message) {
        super(message, null, false, false);
        this.errno = errno;
    }

    int errno() {
        return errno;
    }
}
