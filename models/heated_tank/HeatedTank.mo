within ;
model HeatedTank
  "Well-mixed liquid tank heated electrically and losing heat to ambient (same equations as heated_tank.c)"
  import SI = Modelica.Units.SI;

  parameter SI.Mass m(min=0) = 100 "Liquid mass";
  parameter SI.SpecificHeatCapacity c_p(min=0) = 4186 "Specific heat capacity of the liquid";
  parameter SI.ThermalConductance UA(min=0) = 40
    "Heat-loss coefficient to the surroundings (area times heat transfer coefficient)";
  parameter SI.Temperature T_ambient(displayUnit="degC") = 293.15 "Ambient temperature";
  final parameter SI.HeatCapacity C = m*c_p "Heat capacity of the tank contents, m c_p";

  input SI.Power P_heater(min=0, start=0, displayUnit="kW") "Electric heater power";
  output SI.Temperature T(min=0, start=293.15, fixed=true, nominal=300, displayUnit="degC")
    "Liquid temperature (state)";
  output SI.HeatFlowRate Q_loss "Heat flow lost to the surroundings";

equation
  Q_loss = UA*(T - T_ambient);
  C*der(T) = P_heater - Q_loss;

  annotation (experiment(StartTime=0, StopTime=36000, Tolerance=1e-6, Interval=60),
    Documentation(info="<html>
<p>Energy balance of a well-mixed tank: <code>m c_p dT/dt = P_heater - UA (T - T_ambient)</code>.
For constant heater power the temperature approaches <code>T_ambient + P_heater/UA</code>
exponentially with time constant <code>m c_p / UA</code> (about 2.9 h with the defaults).</p>
</html>"));
end HeatedTank;
