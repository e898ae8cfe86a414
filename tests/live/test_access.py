"""Who may do what on the twin's and the plant's OPC UA servers, tried with a real asyncua client:
nobody becomes asyncua's Admin (the user name ``admin`` with any password gets nowhere), the
published and measured nodes are read-only for everyone, the address space cannot be changed
by any client, and the plant's ``cmd.*`` setpoints are written only by operators."""

import asyncio

import fmitwin.models
import pytest
import pytest_asyncio
from asyncua import Client, ua
from fmitwin.live.access import AccessPolicy, UserAccount
from fmitwin.live.config import parse_config
from fmitwin.live.plant import Plant
from fmitwin.live.twin import Twin
from support.live_servers import Running, free_port, heated_tank_twin, wait_until

pytestmark = pytest.mark.asyncio(loop_scope="module")

PLANT_NS = "urn:fmitwin:plant:HeatedTank"
DENIED = (ua.UaStatusCodeError, ua.UaError)


def account(name, role):
    return UserAccount.with_password(name, role, f"{name}-secret")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def plant():
    """A plant with an operator and a reader; anonymous sessions may read."""
    plant = Plant(
        fmitwin.models.path("heated_tank"),
        opcua=f"opc.tcp://127.0.0.1:{free_port()}",
        start_values={"m": 2.0, "P_heater": 2000.0},
        access=AccessPolicy(
            {"op": account("op", "operator"), "viewer": account("viewer", "reader")}
        ),
        allow_insecure_credentials=True,  # the refusal is tested below
    )
    task = asyncio.create_task(plant.run())
    await asyncio.wait_for(plant.ready.wait(), 60)
    yield plant
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def client(endpoint, user=None, password=None):
    c = Client(endpoint, timeout=4)
    if user is not None:
        c.set_user(user)
        c.set_password(password)
    return c


async def write(c, node_id, value):
    await c.get_node(node_id).write_value(ua.DataValue(ua.Variant(value, ua.VariantType.Double)))


async def assert_address_space_is_fixed(c, node_id, idx):
    with pytest.raises(DENIED):
        await c.nodes.objects.add_object(ua.NodeId("intruder", idx), "intruder")
    with pytest.raises(DENIED):
        await c.delete_nodes([c.get_node(node_id)], recursive=False)
    await c.get_node(node_id).read_value()  # still there


async def test_admin_with_any_password_is_refused_by_the_plant(plant):
    with pytest.raises(DENIED, match="BadUserAccessDenied"):
        async with client(plant.opcua_endpoint, "admin", "anything"):
            pass


async def test_plant_roles_measured_nodes_read_only_cmd_for_operators_only(plant):
    async with client(plant.opcua_endpoint) as anonymous:
        idx = await anonymous.get_namespace_index(PLANT_NS)
        assert 250 < await anonymous.get_node(f"ns={idx};s=T").read_value() < 450
        with pytest.raises(DENIED):
            await write(anonymous, f"ns={idx};s=cmd.P_heater", 1.0)
    async with client(plant.opcua_endpoint, "viewer", "viewer-secret") as reader:
        with pytest.raises(DENIED):
            await write(reader, f"ns={idx};s=cmd.P_heater", 1.0)
        await assert_address_space_is_fixed(reader, f"ns={idx};s=T", idx)
    async with client(plant.opcua_endpoint, "op", "op-secret") as operator:
        for measured in ("T", "true.T", "P_heater"):
            with pytest.raises(DENIED):
                await write(operator, f"ns={idx};s={measured}", 260.0)
        await assert_address_space_is_fixed(operator, f"ns={idx};s=T", idx)
        await write(operator, f"ns={idx};s=cmd.P_heater", 1500.0)
    await wait_until(lambda: plant.sim.get(["P_heater"])[0] == 1500.0, 10, "the command applied")
    plant._command("P_heater", 2000.0, "test")


async def test_plant_without_users_lets_anyone_command_but_not_forge(tmp_path):
    plant = Plant(fmitwin.models.path("heated_tank"), opcua=f"opc.tcp://127.0.0.1:{free_port()}")
    task = asyncio.create_task(plant.run())
    try:
        await asyncio.wait_for(plant.ready.wait(), 60)
        with pytest.raises(DENIED):
            async with client(plant.opcua_endpoint, "admin", "anything"):
                pass  # no user names at all: the server offers none
        async with client(plant.opcua_endpoint) as anonymous:
            idx = await anonymous.get_namespace_index(PLANT_NS)
            with pytest.raises(DENIED):
                await write(anonymous, f"ns={idx};s=T", 260.0)
            await assert_address_space_is_fixed(anonymous, f"ns={idx};s=T", idx)
            await write(anonymous, f"ns={idx};s=cmd.P_heater", 100.0)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def twin_file(plant, tmp_path, port, options):
    return parse_config(
        heated_tank_twin(
            plant_opcua=plant.opcua_endpoint,
            mqtt=None,
            publish_opcua=f"opc.tcp://127.0.0.1:{port}",
            publish_options=options,
        ),
        tmp_path / "twin.toml",
    )


async def test_the_twin_alone_writes_its_published_nodes(plant, tmp_path, monkeypatch):
    monkeypatch.setenv("FMITWIN_TEST_VIEWER", "viewer-secret")
    port = free_port()
    viewer = account("viewer", "reader")
    options = f"""allow_insecure_credentials = true
[publish.users.alice]
password_env = "FMITWIN_TEST_VIEWER"
[publish.users.bob]
role = "operator"
password_hash = "{viewer.password_hash}"
"""
    twin = Twin(twin_file(plant, tmp_path, port, options), history=None)
    endpoint = f"opc.tcp://127.0.0.1:{port}"
    async with Running(twin):
        await wait_until(lambda: twin.sync.counters.applied >= 5, 30, "twin updates")
        await asyncio.sleep(0.5)  # the server is up once the first estimates are published
        for user, password in (("admin", "anything"), ("alice", "wrong"), ("carol", "x")):
            with pytest.raises(DENIED, match="BadUserAccessDenied"):
                async with client(endpoint, user, password):
                    pass
        for user, password in ((None, None), ("alice", "viewer-secret"), ("bob", "viewer-secret")):
            async with client(endpoint, user, password) as c:
                idx = await c.get_namespace_index("urn:test:twin")
                value = f"ns={idx};s=tank.States.T.Value"
                assert 250 < await c.get_node(value).read_value() < 450
                for node in (value, f"ns={idx};s=tank.Updates"):
                    with pytest.raises(DENIED):
                        await write(c, node, 260.0)
                with pytest.raises(DENIED):
                    await c.get_node(f"ns={idx};s=tank.Health").write_value("ok")
                await assert_address_space_is_fixed(c, value, idx)


async def test_anonymous_off_refuses_sessions_without_a_user(plant, tmp_path, monkeypatch):
    monkeypatch.setenv("FMITWIN_TEST_VIEWER", "viewer-secret")
    port = free_port()
    options = """anonymous = "off"
allow_insecure_credentials = true
[publish.users.alice]
password_env = "FMITWIN_TEST_VIEWER"
"""
    twin = Twin(twin_file(plant, tmp_path, port, options), history=None)
    endpoint = f"opc.tcp://127.0.0.1:{port}"
    async with Running(twin):
        await wait_until(lambda: twin.sync.counters.applied >= 5, 30, "twin updates")
        await asyncio.sleep(0.5)
        with pytest.raises(DENIED):
            async with client(endpoint):
                pass
        async with client(endpoint, "alice", "viewer-secret") as c:
            await c.get_namespace_index("urn:test:twin")
