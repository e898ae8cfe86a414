within ;
model DCMotor
  "Permanent-magnet DC motor driving an inertia with viscous and smoothed Coulomb friction (same equations as dc_motor.c)"
  import SI = Modelica.Units.SI;

  parameter SI.Resistance R(min=0) = 1.2 "Armature resistance";
  parameter SI.Inductance L(min=0) = 0.01 "Armature inductance";
  parameter Real k(unit="N.m/A", min=0) = 0.7 "Torque constant = back-EMF constant";
  parameter SI.MomentOfInertia J(min=0) = 0.02 "Moment of inertia of rotor and load";
  parameter Real b(unit="N.m.s/rad", min=0) = 1e-3 "Viscous friction coefficient";
  parameter SI.Torque tau_c(min=0) = 0.05 "Coulomb friction torque";
  parameter SI.AngularVelocity w_c(min=0) = 0.1
    "Speed over which the Coulomb friction is smoothed (tanh)";

  input SI.Voltage V(start=0) "Armature voltage";
  input SI.Torque tau_load(start=0) "Load torque opposing the rotation";
  output SI.Current i(start=0, fixed=true, nominal=10) "Armature current (state)";
  output SI.AngularVelocity w(start=0, fixed=true, nominal=100, displayUnit="rpm")
    "Shaft angular speed (state)";
  output SI.Angle phi(start=0, fixed=true, nominal=100) "Shaft angle (state)";
  output SI.Torque tau_motor "Electromagnetic torque k i";
  output SI.Power P_electric(displayUnit="kW") "Electrical input power V i";

equation
  tau_motor = k*i;
  P_electric = V*i;
  L*der(i) = V - R*i - k*w;
  J*der(w) = tau_motor - b*w - tau_c*tanh(w/w_c) - tau_load;
  der(phi) = w;

  annotation (experiment(StartTime=0, StopTime=1, Tolerance=1e-6, Interval=1e-3),
    Documentation(info="<html>
<p>Electrical time constant L/R = 8.3 ms, mechanical time constant J R/(k<sup>2</sup> + b R) = 49 ms;
no-load speed about V/k (314 rad/s = 3000 rpm at 220 V).</p>
</html>"));
end DCMotor;
