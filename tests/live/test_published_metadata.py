"""Independent clients see what the twin publishes means: every state's Value and Sigma, and
every residual's Value, Sigma and NIS, are OPC UA AnalogUnitRangeType variables with
EngineeringUnits (UN/CEFACT EUInformation from the FMU's unit, else the sensor's; NIS
dimensionless) and EURange (from the FMU's min/max, else the range of the sensor measuring the
state), and clients cannot write them."""

import math

import pytest
from asyncua import Client, ua
from fmitwin.live.config import parse_config
from fmitwin.live.publish import cefact_unit_id
from fmitwin.live.twin import Twin
from fmitwin.live.units import cefact_code, residual_metadata, state_metadata
from support.live_servers import Running, free_port, heated_tank_twin, replay_twin, wait_until


def test_fmu_unit_and_sensor_range_in_the_model_unit():
    text = heated_tank_twin(plant_opcua="opc.tcp://127.0.0.1:4840", mqtt=None, process="fmu")
    meta = state_metadata(parse_config(text.replace('unit = "K"', 'unit = "degC"')))
    assert meta["T"].unit == "K"  # the FMU's unit
    assert (meta["T"].low, meta["T"].high) == pytest.approx((523.15, 723.15))  # degC range in K
    assert meta["T"].code == "KEL"
    residual = residual_metadata(parse_config(text))["T_opcua"]  # in the FMU's unit
    assert (residual.unit, residual.code) == ("K", "KEL")


@pytest.mark.parametrize(
    ("unit", "code"),
    [
        ("K", "KEL"),
        ("kelvin", "KEL"),
        ("degC", "CEL"),
        ("Pa", "PAL"),
        ("kPa", "KPA"),
        ("m", "MTR"),
        ("s", "SEC"),
        ("W", "WTT"),
        ("kg", "KGM"),
        ("m3/s", "MQS"),  # Modelica's notation
        ("m**3/s", "MQS"),
        ("rad/s", "2A"),
        ("W/(m.K)", "D53"),
        ("1", "C62"),
        ("furlong/fortnight", ""),  # a unit, but not in the table
        ("no such unit", ""),
        ("", ""),
    ],
)
def test_un_cefact_common_codes_by_pint_normalised_unit(unit, code):
    assert cefact_code(unit) == code


def test_unit_id_is_the_common_code_one_byte_per_character():
    assert cefact_unit_id("KEL") == 4932940  # OPC UA Part 8's example for kelvin
    assert cefact_unit_id("2A") == 0x3241
    assert cefact_unit_id("") == -1


@pytest.mark.asyncio
async def test_a_client_reads_engineering_units_and_range_and_cannot_write(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("ts,sensor,value\n" + "".join(f"{1e9 + i * 0.05},T,30\n" for i in range(600)))
    port = free_port()
    text = replay_twin(
        str(csv),
        speed=1.0,
        sensor_options='unit = "degC"',
        value_range=(0.0, 100.0),
        extra=f'[publish]\nopcua = "opc.tcp://127.0.0.1:{port}"\nnamespace = "urn:test:twin"\n'
        '[publish.security]\npolicies = ["None"]\n',
    )
    twin = Twin(parse_config(text, tmp_path / "twin.toml"))
    async with Running(twin):
        await wait_until(lambda: twin.publisher.published_health is not None, 30, "published")
        client = Client(f"opc.tcp://127.0.0.1:{port}")
        await client.connect()
        idx = await client.get_namespace_index("urn:test:twin")
        value = client.get_node(f"ns={idx};s=csv.States.temp.Value")
        sigma = client.get_node(f"ns={idx};s=csv.States.temp.Sigma")
        analog = ua.NodeId(ua.ObjectIds.AnalogUnitRangeType)
        assert await value.read_type_definition() == analog
        assert await sigma.read_type_definition() == analog
        units = await (await value.get_child("0:EngineeringUnits")).read_value()
        assert units.DisplayName.Text == "degC"
        assert units.NamespaceUri == "http://www.opcfoundation.org/UA/units/un/cefact"
        assert units.UnitId == cefact_unit_id("CEL")
        for leaf, unit, code in (
            ("Value", "degC", "CEL"),
            ("Sigma", "degC", "CEL"),
            ("NIS", "1", "C62"),
        ):
            node = client.get_node(f"ns={idx};s=csv.Residuals.T.{leaf}")
            assert await node.read_type_definition() == analog
            eu = await (await node.get_child("0:EngineeringUnits")).read_value()
            assert (eu.DisplayName.Text, eu.UnitId) == (unit, cefact_unit_id(code))
            assert eu.NamespaceUri == "http://www.opcfoundation.org/UA/units/un/cefact"
            eu_range = await (await node.get_child("0:EURange")).read_value()
            assert eu_range.Low == (-math.inf if leaf == "Value" else 0.0)
        eu_range = await (await value.get_child("0:EURange")).read_value()
        assert (eu_range.Low, eu_range.High) == (0.0, 100.0)
        sigma_range = await (await sigma.get_child("0:EURange")).read_value()
        assert sigma_range.Low == 0.0 and math.isinf(sigma_range.High)
        for node in (value, await value.get_child("0:EURange")):
            with pytest.raises(ua.UaStatusCodeError):
                await node.write_value(ua.Variant(1.0, ua.VariantType.Double))
        # no [history]: not historizing (test_history_read.py reads a twin's history)
        assert not (await value.read_attribute(ua.AttributeIds.Historizing)).Value.Value
        with pytest.raises(ua.UaStatusCodeError, match="BadHistoryOperationUnsupported"):
            await value.read_raw_history()
        await client.disconnect()
