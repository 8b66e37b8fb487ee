#!/bin/bash
#
# Stand-ins for the devstack helpers devstack/lib/dpiaas calls, so that a
# test can run the plugin's functions without a devstack checkout. The
# Keystone ones are devstack's own (functions-common, lib/keystone), run
# with the real openstack CLI against a real Keystone; files are written
# by a small iniset on Python's configparser; the rest only record.
#
# The test exports: DPIAAS_TEST_PYTHON, DPIAAS_TEST_TRANSPORT_URL,
# DPIAAS_TEST_DB_URL (without database name), DPIAAS_TEST_DB_PORT,
# DPIAAS_TEST_RECORD (a file), OS_CLIENT_CONFIG_FILE (with a cloud named
# devstack-system-admin) and devstack's own variables.

function die {
    echo "die at line $1: ${*:2}" >&2
    exit 1
}

function echo_summary {
    echo "$@"
}

function define_plugin {
    :
}

function _record {
    echo "$*" >> "$DPIAAS_TEST_RECORD"
}

function enable_service {
    local s
    for s in "$@"; do
        if ! is_service_enabled "$s"; then
            ENABLED_SERVICES+=",$s"
        fi
    done
}

function is_service_enabled {
    local s
    for s in "$@"; do
        if [[ ",$ENABLED_SERVICES," == *",$s,"* ]]; then
            return 0
        fi
    done
    return 1
}

# the test runs as root or as the file owner: no sudo needed
function sudo {
    "$@"
}

function get_python_exec_prefix {
    dirname "$DPIAAS_TEST_PYTHON"
}

function setup_develop {
    _record setup_develop "$@"
}

# iniset [-sudo] FILE SECTION OPTION VALUE, in place (mode and owner kept)
function iniset {
    if [[ "$1" == "-sudo" ]]; then
        shift
    fi
    "$DPIAAS_TEST_PYTHON" - "$@" <<'PY'
import configparser
import os
import sys

path, section, option, value = sys.argv[1:5]
parser = configparser.RawConfigParser(strict=False)
parser.optionxform = str
if os.path.exists(path):
    parser.read(path)
if section != 'DEFAULT' and not parser.has_section(section):
    parser.add_section(section)
parser.set(section, option, value)
with open(path, 'r+' if os.path.exists(path) else 'w') as f:
    parser.write(f)
    f.truncate()
PY
}

function iniset_rpc_backend {
    local file=$2
    local section=${3:-DEFAULT}
    iniset "$file" "$section" transport_url "$DPIAAS_TEST_TRANSPORT_URL"
}

function database_connection_url {
    echo "$DPIAAS_TEST_DB_URL/$1?charset=utf8mb4"
}

function mysql {
    command mysql --no-defaults -P "$DPIAAS_TEST_DB_PORT" "$@"
}

function recreate_database {
    local sql="DROP DATABASE IF EXISTS $1;"
    sql+=" CREATE DATABASE $1 CHARACTER SET utf8mb4;"
    MYSQL_PWD=$DATABASE_PASSWORD mysql -u"$DATABASE_USER" -h"$MYSQL_HOST" \
        -e "$sql"
}

# lib/keystone
function configure_keystone_authtoken_middleware {
    local conf_file=$1
    local admin_user=$2
    local section=${3:-keystone_authtoken}
    iniset "$conf_file" "$section" auth_type password
    iniset "$conf_file" "$section" interface public
    iniset "$conf_file" "$section" auth_url "$KEYSTONE_SERVICE_URI"
    iniset "$conf_file" "$section" username "$admin_user"
    iniset "$conf_file" "$section" password "$SERVICE_PASSWORD"
    iniset "$conf_file" "$section" user_domain_name "$SERVICE_DOMAIN_NAME"
    iniset "$conf_file" "$section" project_name "$SERVICE_PROJECT_NAME"
    iniset "$conf_file" "$section" project_domain_name "$SERVICE_DOMAIN_NAME"
}

# functions-common
function get_or_create_user {
    openstack --os-cloud devstack-system-admin user create "$1" \
        --password "$2" --domain="$3" --or-show -f value -c id
}

function get_or_add_user_project_role {
    openstack --os-cloud devstack-system-admin role add "$1" --user "$2" \
        --project "$3" --user-domain "$4" --project-domain "$5"
}

function create_service_user {
    local role=${2:-service}
    get_or_create_user "$1" "$SERVICE_PASSWORD" "$SERVICE_DOMAIN_NAME" \
        >/dev/null
    get_or_add_user_project_role "$role" "$1" "$SERVICE_PROJECT_NAME" \
        "$SERVICE_DOMAIN_NAME" "$SERVICE_DOMAIN_NAME"
    get_or_add_user_project_role service "$1" "$SERVICE_PROJECT_NAME" \
        "$SERVICE_DOMAIN_NAME" "$SERVICE_DOMAIN_NAME"
}

function get_or_create_service {
    openstack --os-cloud devstack-system-admin service show "$2" \
        -f value -c id 2>/dev/null ||
    openstack --os-cloud devstack-system-admin service create "$2" \
        --name "$1" --description="$3" -f value -c id
}

function _get_or_create_endpoint_with_interface {
    local endpoint_id
    endpoint_id=$(openstack --os-cloud devstack-system-admin endpoint list \
        --service "$1" --interface "$2" --region "$4" -c ID -f value)
    if [[ -z "$endpoint_id" ]]; then
        endpoint_id=$(openstack --os-cloud devstack-system-admin \
            endpoint create "$1" "$2" "$3" --region "$4" -f value -c id)
    fi
    echo "$endpoint_id"
}

function get_or_create_endpoint {
    local public_id
    public_id=$(_get_or_create_endpoint_with_interface "$1" public "$3" "$2")
    if [[ -n "$4" ]]; then
        _get_or_create_endpoint_with_interface "$1" admin "$4" "$2" >/dev/null
    fi
    if [[ -n "$5" ]]; then
        _get_or_create_endpoint_with_interface "$1" internal "$5" "$2" \
            >/dev/null
    fi
    echo "$public_id"
}

# lib/apache, without Apache: the uwsgi file only
function write_uwsgi_config {
    local conf=$1 wsgi=$2 http=$4 name=$5
    rm -f "$conf"
    iniset "$conf" uwsgi module "$wsgi"
    iniset "$conf" uwsgi master true
    if [[ -n "$http" ]]; then
        iniset "$conf" uwsgi http "$http"
    else
        iniset "$conf" uwsgi socket "/var/run/uwsgi/$name.socket"
    fi
    _record write_uwsgi_config "$@"
}

function remove_uwsgi_config {
    rm -f "$1"
    _record remove_uwsgi_config "$@"
}

# systemd
function run_process {
    if is_service_enabled "$1"; then
        _record run_process "$@"
    fi
}

function stop_process {
    _record stop_process "$@"
}

function wait_for_service {
    _record wait_for_service "$@"
}
