within ;
model CentrifugalPump
  "Speed-controlled centrifugal pump whose rolling bearing wears out (same equations as centrifugal_pump.c)"
  import SI = Modelica.Units.SI;
  import Modelica.Constants.g_n;

  // Pump and system
  parameter SI.AngularVelocity w_rated(min=0, displayUnit="rpm") = 308.92327760299634
    "Rated speed (pump curve data refer to it)";
  parameter SI.Length H0(min=0) = 36 "Shut-off head at rated speed";
  parameter SI.VolumeFlowRate Q_bep(min=0, displayUnit="m3/h") = 30/3600
    "Best-efficiency-point flow at rated speed";
  parameter SI.Length H_bep(min=0) = 30 "Best-efficiency-point head at rated speed";
  parameter Real eta_bep(min=0, max=1) = 0.72 "Hydraulic efficiency at the best-efficiency point";
  parameter SI.Density rho(min=0) = 998 "Liquid density";
  parameter SI.Length H_static(min=0) = 10 "Static head of the system";
  parameter Real K_system(unit="s2/m5", min=0) = 20/(30/3600)^2
    "System resistance with the valve fully open: H = H_static + K_system Q^2";
  // Bearing and wear
  parameter SI.Torque T_friction(min=0) = 0.4 "Bearing friction torque when new";
  parameter Real c_friction(min=0) = 2 "Relative friction increase at wear = 1";
  parameter Real c_hydraulic(min=0) = 0.15
    "Relative hydraulic loss increase at wear = 1 (rotor eccentricity, gap wear)";
  parameter Real v_base(unit="mm/s", min=0) = 1.2
    "Vibration RMS of the new pump at the rated best-efficiency point";
  parameter Real v_wear(unit="mm/s", min=0) = 6
    "Vibration RMS added by the bearing at wear = 1 and rated speed";
  parameter Real k_vibration(min=0) = 0.5 "Vibration increase with off-design flow";
  parameter Real k_radial(min=0) = 0.6 "Bearing load increase with off-design flow (radial thrust)";
  parameter Real rated_life(unit="h", min=0) = 3000
    "Operating hours from new to failure at the rated best-efficiency point";
  parameter Real alpha(min=0) = 3 "Wear acceleration: damage rate grows as (1 + alpha wear)";
  parameter Real wear_limit(min=0) = 1 "Wear at which the bearing fails";
  parameter SI.Temperature T_ambient(displayUnit="degC") = 298.15
    "Ambient temperature around the bearing housing";
  parameter Real R_thermal(unit="K/W", min=0) = 0.15 "Thermal resistance bearing to ambient";
  parameter SI.Time tau_thermal(min=0) = 1200 "Thermal time constant of the bearing housing";

  input SI.AngularVelocity speed(min=0, start=308.92327760299634, displayUnit="rpm")
    "Shaft speed commanded by the drive";
  input Real valve(min=0, max=1, start=1) "Discharge valve opening";

  output Real wear(min=0, start=0, fixed=true, nominal=1)
    "Bearing wear (state): 0 new, wear_limit failed";
  output SI.Temperature T_bearing(start=298.15, fixed=true, nominal=300, displayUnit="degC")
    "Bearing temperature (state)";
  output Real operating_hours(unit="h", min=0, start=0, fixed=true, nominal=1000)
    "Operating hours (state): time spent running";
  output SI.VolumeFlowRate Q(displayUnit="m3/h") "Volume flow";
  output SI.Length H "Pump head";
  output SI.Power P_shaft(displayUnit="kW") "Shaft power drawn";
  output SI.Torque torque "Shaft torque drawn from the drive";
  output Real efficiency "Overall efficiency P_h / P_shaft";
  output Real vibration(unit="mm/s") "Bearing-housing vibration velocity, RMS";
  output Real failed(start=0, fixed=true)
    "1 once the bearing has failed and the pump tripped, else 0";

protected
  final parameter Real a(unit="s2/m5") = (H0 - H_bep)/Q_bep^2 "Pump curve curvature";
  final parameter SI.Power P_bep = rho*g_n*Q_bep*H_bep/eta_bep "Shaft power at the BEP (hydraulic part)";
  final parameter SI.Power P0 = 2*P_bep*(H0 - H_bep)/H_bep "Shut-off power at rated speed";
  final parameter Real p1(unit="W.s/m3") = (P_bep - P0)/Q_bep "Slope of the power curve";
  final parameter Real r0(unit="1/s") = if alpha > 0 then log(1 + alpha*wear_limit)/(alpha*rated_life*3600)
    else wear_limit/(rated_life*3600) "Wear rate at the rated BEP of a new bearing";
  SI.AngularVelocity w "Effective speed: zero once the pump has tripped";
  Real s "Relative speed w / w_rated";
  Real x "Relative off-design flow (Q - s Q_bep)/Q_bep";
  Real hydraulic_torque_w(unit="W") "Hydraulic torque times w_rated";
  SI.Torque friction_torque;
  SI.Power friction_power;
  Real load "Bearing load relative to the rated BEP";

equation
  w = if failed > 0.5 then 0 else speed;
  s = w/w_rated;
  Q = if H0*s^2 - H_static > 0 then valve*sqrt((H0*s^2 - H_static)/(a*valve^2 + K_system)) else 0;
  H = H0*s^2 - a*Q^2;
  hydraulic_torque_w = (1 + c_hydraulic*wear)*(P0*s^2 + p1*s*Q);
  friction_torque = T_friction*(1 + c_friction*wear)*tanh(w/1.0);
  friction_power = friction_torque*w;
  P_shaft = hydraulic_torque_w*s + friction_power;
  torque = hydraulic_torque_w/w_rated + friction_torque;
  efficiency = if P_shaft > 0 then rho*g_n*Q*H/P_shaft else 0;
  x = (Q - s*Q_bep)/Q_bep;
  vibration = v_base*(s^2 + k_vibration*x^2) + v_wear*wear^2*s;
  load = s^2 + k_radial*x^2;
  der(wear) = r0*s*load^3*(1 + alpha*wear);
  tau_thermal*der(T_bearing) = T_ambient + R_thermal*friction_power - T_bearing;
  der(operating_hours) = if failed < 0.5 and w > 0.01*w_rated then 1/3600 else 0;
  when wear >= wear_limit then
    failed = 1 "the bearing fails and the protection trips the pump (latched)";
  end when;

  annotation (experiment(StartTime=0, StopTime=12600000, Tolerance=1e-6, Interval=3600),
    Documentation(info="<html>
<p>Quasi-static pump hydraulics (affinity laws, throttled system curve) with a slow bearing-wear
state. For constant inputs, <code>wear(t) = ((1 + alpha wear0) exp(alpha r t) - 1)/alpha</code> with
<code>r = r0 s load^3</code>; the bearing fails at
<code>t_f = ln((1 + alpha wear_limit)/(1 + alpha wear0))/(alpha r)</code>, which is exactly
<code>rated_life</code> operating hours at the rated best-efficiency point from new.</p>
</html>"));
end CentrifugalPump;
