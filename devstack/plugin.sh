#!/bin/bash
#
# devstack plugin of dpiaas: anomaly detection by deep packet inspection.
#
#   [[local|localrc]]
#   enable_plugin dpiaas https://opendev.org/x/dpiaas
#
# installs the package (services, openstackclient plugin), registers the
# anomaly-detection service in Keystone, writes /etc/dpiaas/dpiaas.conf,
# syncs the database and starts dpiaas-api (uwsgi), dpiaas-engine and, on
# every node that enables it, dpiaas-agent. See devstack/README.rst.

# shellcheck source=devstack/lib/dpiaas
source "$(dirname "${BASH_SOURCE[0]}")/lib/dpiaas"

if is_service_enabled dpiaas-api dpiaas-engine dpiaas-agent; then
    if [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Installing dpiaas"
        install_dpiaas
    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        echo_summary "Configuring dpiaas"
        configure_dpiaas
        configure_dpiaas_api
        create_dpiaas_accounts
    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        echo_summary "Initializing and starting dpiaas"
        init_dpiaas
        start_dpiaas
    fi

    if [[ "$1" == "unstack" ]]; then
        echo_summary "Stopping dpiaas"
        stop_dpiaas
    fi

    if [[ "$1" == "clean" ]]; then
        echo_summary "Cleaning dpiaas"
        cleanup_dpiaas
    fi
fi
