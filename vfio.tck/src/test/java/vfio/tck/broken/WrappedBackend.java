package vfio.tck.broken;

import java.util.function.UnaryOperator;
import vfio.api.backend.BackendFactory;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.Match;
import vfio.api.backend.OpenRequest;

/** A backend that opens devices on another backend and wraps their operations. */
class WrappedBackend implements BackendFactory {
    private final String id;
    protected final BackendFactory delegate;
    private final UnaryOperator<DeviceIoOps> wrap;

    WrappedBackend(String id, BackendFactory delegate, UnaryOperator<DeviceIoOps> wrap) {
        this.id = id;
        this.delegate = delegate;
        this.wrap = wrap;
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public Match match(String address) {
        return delegate.match(address);
    }

    @Override
    public DeviceIoOps open(OpenRequest request) {
        DeviceIoOps ops = delegate.open(request);
        try {
            return wrap.apply(ops);
        } catch (RuntimeException e) {
            ops.close();
            throw e;
        }
    }
}
