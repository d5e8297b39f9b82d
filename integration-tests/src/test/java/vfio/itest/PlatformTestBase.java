package vfio.itest;

import javax.inject.Inject;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.osgi.framework.BundleContext;
import org.osgi.service.cm.ConfigurationAdmin;

/**
 * What every Pax Exam test here starts from: the platform's bundles in Felix ({@link
 * Platform#options}), the test bundle's context and ConfigurationAdmin, injected.
 */
public abstract class PlatformTestBase {
    @Inject
    protected BundleContext context;
    @Inject
    protected ConfigurationAdmin cm;

    @Configuration
    public Option[] config() {
        return Platform.options();
    }
}
