package vfio.core.irq;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import vfio.posix.ErrnoException;

/** The core's one {@link IrqDispatcher}, as a DS component shared by every device of the bundle. */
@Component(service = IrqDispatcher.class)
public final class IrqDispatcherComponent implements IrqDispatcher {
    private final IrqDispatcher dispatcher;

    /** @throws ErrnoException if epoll or the wake-up eventfd cannot be created */
    @Activate
    public IrqDispatcherComponent() throws ErrnoException {
        dispatcher = IrqDispatcher.create();
    }

    @Override
    public Signal open(String name, Runnable target) throws ErrnoException {
        return dispatcher.open(name, target);
    }

    @Deactivate
    @Override
    public void close() {
        dispatcher.close();
    }
}
